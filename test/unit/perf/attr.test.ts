import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  COUNTING_READ_FORMAT, FLAG_BITS, OFFSETS, PERF_ATTR_SIZE, PERF_ATTR_SIZE_VER7, PerfFormat, PerfType, decodeReading, encodeAttr, flagWord,
} from '../../../src/perf/attr.js';

test('the struct is PERF_ATTR_SIZE_VER7 (128) bytes and says so in its size field', () => {
  const buf = encodeAttr({ type: PerfType.SOFTWARE, config: 1n, readFormat: 0n, flags: {} });
  assert.equal(PERF_ATTR_SIZE, PERF_ATTR_SIZE_VER7);
  assert.equal(buf.length, 128);
  assert.equal(buf.readUInt32LE(4), 128);
});

test('type, config and read_format sit at offsets 0, 8 and 32, little-endian', () => {
  const buf = encodeAttr({ type: PerfType.HW_CACHE, config: 0x10002n, readFormat: COUNTING_READ_FORMAT, flags: {} });
  assert.deepEqual([...buf.subarray(0, 4)], [3, 0, 0, 0]);
  assert.deepEqual([...buf.subarray(8, 16)], [0x02, 0x00, 0x01, 0, 0, 0, 0, 0]);
  // TOTAL_TIME_ENABLED (1) | TOTAL_TIME_RUNNING (2), no GROUP, no ID
  assert.deepEqual([...buf.subarray(32, 40)], [3, 0, 0, 0, 0, 0, 0, 0]);
  assert.equal(COUNTING_READ_FORMAT & PerfFormat.GROUP, 0n);
  assert.deepEqual(OFFSETS, { type: 0, size: 4, config: 8, samplePeriod: 16, sampleType: 24, readFormat: 32, flags: 40 });
});

test('flag bits follow the kernel bit-field order in the u64 at offset 40', () => {
  // disabled:1 inherit:1 pinned:1 exclusive:1 exclude_user:1 exclude_kernel:1 exclude_hv:1 ... inherit_stat (11) ... inherit_thread (35)
  const buf = encodeAttr({ type: PerfType.SOFTWARE, config: 1n, readFormat: 0n, flags: { disabled: true, inherit: true, excludeHv: true, inheritThread: true } });
  assert.equal(buf.readBigUInt64LE(40), (1n << 0n) | (1n << 1n) | (1n << 6n) | (1n << 35n));
  // bit 35 lands in byte 44, bit 3
  assert.equal(buf[44], 0b1000);
  assert.equal(flagWord({ excludeKernel: true }), 1n << 5n);
  assert.equal(flagWord({ inheritStat: true }), 1n << 11n);
  assert.equal(FLAG_BITS.excludeUser, 4);
});

test('everything outside type/size/config/read_format/flags is zero (sampling off, tail zeroed for older kernels)', () => {
  const buf = encodeAttr({ type: PerfType.HARDWARE, config: 0xffffffffn, readFormat: COUNTING_READ_FORMAT, flags: { inherit: true } });
  const written = new Set<number>();
  for (const [start, len] of [[0, 4], [4, 4], [8, 8], [32, 8], [40, 8]] as const) for (let i = start; i < start + len; i++) written.add(i);
  for (let i = 0; i < buf.length; i++) if (!written.has(i)) assert.equal(buf[i], 0, `byte ${i}`);
});

test('a reading is value, time_enabled, time_running as three u64', () => {
  const buf = Buffer.alloc(24);
  buf.writeBigUInt64LE(2n ** 60n + 7n, 0);
  buf.writeBigUInt64LE(1000n, 8);
  buf.writeBigUInt64LE(250n, 16);
  assert.deepEqual(decodeReading(buf), { value: 2n ** 60n + 7n, enabled: 1000n, running: 250n });
});
