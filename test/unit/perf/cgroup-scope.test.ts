import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseCpuList } from '../../../src/perf/cgroup-scope.js';

test('cpu lists of /sys/devices/system/cpu/online', () => {
  assert.deepEqual(parseCpuList('0-1\n'), [0, 1]);
  assert.deepEqual(parseCpuList('0\n'), [0]);
  assert.deepEqual(parseCpuList('0-3,6,8-9\n'), [0, 1, 2, 3, 6, 8, 9]);
  assert.deepEqual(parseCpuList(''), []);
});
