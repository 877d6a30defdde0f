import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TASKSTATS_FIELDS, TASKSTATS_MIN_SIZE, TASKSTATS_V13_SIZE, TaskStats, decodeComm, decodeTaskstats } from '../../../src/taskstats/taskstats-struct.js';

function struct(size: number): Buffer {
  const b = Buffer.alloc(size);
  const put64 = (field: keyof typeof TASKSTATS_FIELDS, v: bigint) => {
    const off = TASKSTATS_FIELDS[field][0];
    if (off + 8 <= size) b.writeBigUInt64LE(v, off);
  };
  b.writeUInt16LE(13, 0);
  b.write('worker/1', TASKSTATS_FIELDS.ac_comm[0]);
  b.writeUInt32LE(4242, TASKSTATS_FIELDS.ac_pid[0]);
  b.writeUInt32LE(1, TASKSTATS_FIELDS.ac_ppid[0]);
  b.writeUInt32LE(1000, TASKSTATS_FIELDS.ac_uid[0]);
  put64('cpu_run_virtual_total', 123_456_789_012n);
  put64('ac_utime', 2n ** 40n + 5n); // above 2^32: both halves matter
  put64('ac_stime', 77n);
  put64('ac_minflt', 11n);
  put64('ac_majflt', 12n);
  put64('read_char', 13n);
  put64('write_char', 14n);
  put64('read_bytes', 4096n);
  put64('write_bytes', 8192n);
  put64('cancelled_write_bytes', 512n);
  put64('nvcsw', 1000n);
  put64('nivcsw', 17n);
  put64('ac_btime64', 1_700_000_000n);
  if (size >= 372) b.writeUInt32LE(4240, TASKSTATS_FIELDS.ac_tgid[0]);
  put64('wpcopy_delay_total', 99n);
  return b;
}

test('decodes every counter of a version-13 struct at its offset', () => {
  const wire = Buffer.concat([Buffer.alloc(20, 0xff), struct(TASKSTATS_V13_SIZE)]); // at an unaligned offset, as in a reply
  const s = decodeTaskstats(wire, 20, TASKSTATS_V13_SIZE, new TaskStats());
  assert.equal(s.version, 13);
  assert.equal(s.pid, 4242);
  assert.equal(s.ppid, 1);
  assert.equal(s.uid, 1000);
  assert.equal(s.cpuRunVirtualNs, 123_456_789_012);
  assert.equal(s.utimeUs, 2 ** 40 + 5);
  assert.equal(s.stimeUs, 77);
  assert.deepEqual([s.minflt, s.majflt, s.readChar, s.writeChar, s.readBytes, s.writeBytes, s.cancelledWriteBytes], [11, 12, 13, 14, 4096, 8192, 512]);
  assert.deepEqual([s.nvcsw, s.nivcsw], [1000, 17]);
  assert.equal(s.btimeS, 1_700_000_000, 'ac_btime64 preferred');
  assert.equal(s.tgid, 4240);
  assert.equal(s.wpcopyDelayNs, 99);
  assert.equal(decodeComm(wire, 20), 'worker/1');
});

test('fields past an older, shorter struct read as 0; the same object is reused', () => {
  const out = new TaskStats();
  decodeTaskstats(struct(TASKSTATS_V13_SIZE), 0, TASKSTATS_V13_SIZE, out);
  const short = struct(TASKSTATS_MIN_SIZE);
  const again = decodeTaskstats(short, 0, TASKSTATS_MIN_SIZE, out);
  assert.equal(again, out);
  assert.equal(out.size, TASKSTATS_MIN_SIZE);
  assert.equal(out.nivcsw, 17, 'the last field of the smallest struct');
  assert.deepEqual([out.tgid, out.wpcopyDelayNs, out.exeInode], [0, 0, 0], 'newer fields cleared, not left from the last decode');
});

test('a struct too short for the counters is refused', () => {
  assert.throws(() => decodeTaskstats(Buffer.alloc(200), 0, 200, new TaskStats()), RangeError);
});

test('comm fills all 32 bytes without a NUL', () => {
  const b = struct(TASKSTATS_V13_SIZE);
  b.fill(0x61, 80, 112);
  assert.equal(decodeComm(b, 0), 'a'.repeat(32));
});
