import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseKernelPageSize } from '../../../src/procfs/page-size.js';
import { parsePasswd } from '../../../src/procfs/passwd.js';
import { parsePidCmdline } from '../../../src/procfs/pid-cmdline.js';
import { parsePidIo } from '../../../src/procfs/pid-io.js';
import { parsePidLimits } from '../../../src/procfs/pid-limits.js';
import { parsePidSmapsRollup } from '../../../src/procfs/pid-smaps-rollup.js';
import { parseProcStat } from '../../../src/procfs/proc-stat.js';
import { parseUptime } from '../../../src/procfs/uptime.js';
import { ParseError } from '../../../src/errors.js';
import { fixtureBytes } from '../../helpers/fixtures.js';

test('io: storage bytes and char counts', () => {
  const buf = fixtureBytes('proc/io');
  const text = buf.toString();
  const io = parsePidIo(buf, buf.length);
  assert.equal(io.readBytes, Number(/^read_bytes: (\d+)/m.exec(text)?.[1]));
  assert.equal(io.writeBytes, Number(/^write_bytes: (\d+)/m.exec(text)?.[1]));
  assert.equal(io.rchar, Number(/^rchar: (\d+)/m.exec(text)?.[1]));
  const b = Buffer.from('rchar: 1\nwchar: 2\nsyscr: 3\nsyscw: 4\nread_bytes: 5\nwrite_bytes: 6\ncancelled_write_bytes: 7\n');
  assert.deepEqual(parsePidIo(b, b.length), { rchar: 1, wchar: 2, readBytes: 5, writeBytes: 6 });
});

test('cmdline: NUL-separated argv, trailing NUL dropped, empty for kernel threads', () => {
  const buf = fixtureBytes('proc/cmdline-weird');
  assert.deepEqual(parsePidCmdline(buf, buf.length), ['/tmp/we ird) (name', '30']);
  assert.deepEqual(parsePidCmdline(Buffer.alloc(0), 0), []);
  const b = Buffer.from('nginx: worker process\0\0');
  assert.deepEqual(parsePidCmdline(b, b.length), ['nginx: worker process']);
});

test('limits: soft max open files; unlimited is Infinity', () => {
  assert.equal(parsePidLimits(fixtureBytes('proc/limits').toString()).openFilesSoft, Number(/^Max open files\s+(\d+)/m.exec(fixtureBytes('proc/limits').toString())?.[1]));
  assert.equal(parsePidLimits('Max open files            unlimited            unlimited            files\n').openFilesSoft, Infinity);
  assert.equal(parsePidLimits('').openFilesSoft, Infinity);
});

test('smaps_rollup: Pss and SwapPss in bytes', () => {
  const buf = fixtureBytes('proc/smaps_rollup');
  const r = parsePidSmapsRollup(buf, buf.length);
  assert.equal(r.pssBytes, Number(/^Pss:\s+(\d+) kB/m.exec(buf.toString())?.[1]) * 1024);
  assert.ok(r.pssBytes > 0);
});

test('/proc/stat: cpu totals and boot time', () => {
  const buf = fixtureBytes('proc/proc-stat');
  const s = parseProcStat(buf, buf.length);
  const cpu = /^cpu\s+(\d+) (\d+) (\d+) (\d+)/m.exec(buf.toString());
  assert.equal(s.user, Number(cpu?.[1]));
  assert.equal(s.nice, Number(cpu?.[2]));
  assert.equal(s.system, Number(cpu?.[3]));
  assert.equal(s.bootTime, Number(/^btime (\d+)/m.exec(buf.toString())?.[1]));
  assert.throws(() => parseProcStat(Buffer.from('intr 1\n'), 7), ParseError);
});

test('passwd: first entry per uid wins, comments and junk skipped', () => {
  const users = parsePasswd('root:x:0:0:root:/root:/bin/bash\n# c\nbad\ntoor:x:0:0::/:/bin/sh\nnobody:x:65534:65534::/:/usr/sbin/nologin\n');
  assert.equal(users.get(0), 'root');
  assert.equal(users.get(65534), 'nobody');
  assert.equal(users.size, 2);
});

test('page size from smaps', () => {
  assert.equal(parseKernelPageSize('7f00-7f01 r--p 0 0:0 0 /x\nSize: 4 kB\nKernelPageSize:        4 kB\n'), 4096);
  assert.equal(parseKernelPageSize('nothing'), undefined);
});

test('uptime: seconds since boot, the first of two numbers', () => {
  const buf = fixtureBytes('proc/uptime');
  assert.equal(parseUptime(buf, buf.length), 350735.47);
  const b = Buffer.from('12 3\n');
  assert.equal(parseUptime(b, b.length), 12);
  for (const bad of ['', 'x 1\n', '-1 2\n', '1e5 0\n']) assert.throws(() => parseUptime(Buffer.from(bad), bad.length), ParseError, bad);
});
