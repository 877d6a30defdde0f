import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DeltaSums, FdBudget, scaledDelta } from '../../../src/perf/counter-set.js';
import { ExporterError } from '../../../src/errors.js';

test('an interval the counter ran all of is not scaled', () => {
  assert.equal(scaledDelta(1000n, 500n, 500n), 1000);
  assert.equal(scaledDelta(1000n, 0n, 0n), 1000);
});

test('a multiplexed interval is scaled by enabled / running', () => {
  // on the PMU a quarter of the time: 4x
  assert.equal(scaledDelta(1000n, 400n, 100n), 4000);
  assert.equal(scaledDelta(3n, 3_000_000_000n, 1_000_000_000n), 9);
});

test('no count, or a counter that never ran, adds nothing', () => {
  assert.equal(scaledDelta(0n, 400n, 0n), 0);
  assert.equal(scaledDelta(-5n, 400n, 400n), 0);
});

test('delta sums add, and subtract without going below zero per event', () => {
  const a = new DeltaSums(2);
  a.values[0] = 10;
  a.values[1] = 3;
  a.enabled = 100;
  a.running = 50;
  const b = new DeltaSums(2);
  b.values[0] = 4;
  b.values[1] = 5;
  b.enabled = 30;
  b.running = 60;
  const sum = new DeltaSums(2);
  sum.add(a);
  sum.add(b);
  assert.deepEqual([...sum.values, sum.enabled, sum.running], [14, 8, 130, 110]);
  a.subtractClamped(b);
  assert.deepEqual([...a.values, a.enabled, a.running], [6, 0, 70, 0]);
});

test('the fd budget hands out at most its limit', () => {
  const budget = new FdBudget(2);
  budget.take();
  budget.take();
  assert.equal(budget.available, 0);
  assert.throws(() => budget.take(), (err: unknown) => err instanceof ExporterError && err.code === 'PERF_FD_LIMIT' && /perf\.max_fds=2/.test(err.message));
  budget.release(1);
  assert.equal(budget.used, 1);
  assert.equal(budget.available, 1);
});
