import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizeThreadName, OTHER_THREAD_NAME, ThreadNamer } from '../../../src/grouper/thread-names.js';

test('normalizeThreadName: counters after a separator or at the start become N; digits glued to letters stay', () => {
  const cases: Array<[string, string]> = [
    ['worker-1234', 'worker-N'],
    ['pool-3-thread-17', 'pool-N-thread-N'],
    ['kworker/3:1', 'kworker/N:N'],
    ['kworker/u8:2', 'kworker/u8:N'],
    ['GC Thread#12', 'GC Thread#N'],
    ['42', 'N'],
    ['0abc', 'Nabc'],
    ['python3', 'python3'],
    ['C2 CompilerThre', 'C2 CompilerThre'],
    ['ext4-rsv-conver', 'ext4-rsv-conver'],
    ['gmain', 'gmain'],
    ['', ''],
  ];
  for (const [raw, want] of cases) assert.equal(normalizeThreadName(raw), want, raw);
});

test('ThreadNamer: cap per group, names already known keep their series, the rest is "other"', () => {
  const namer = new ThreadNamer({ normalize: false, maxPerGroup: 2 });
  const known = new Map<string, unknown>();
  const add = (raw: string): string => {
    const n = namer.name(raw, known);
    known.set(n, true);
    return n;
  };
  assert.equal(add('a'), 'a');
  assert.equal(add('b'), 'b');
  assert.equal(add('c'), OTHER_THREAD_NAME);
  assert.equal(add('a'), 'a', 'a known name stays itself after the cap is reached');
  assert.equal(add('d'), OTHER_THREAD_NAME);
  assert.equal(new ThreadNamer({ normalize: false, maxPerGroup: 0 }).name('x-1', new Map([['a', 1]])), 'x-1', '0 means no cap, no normalization');
  assert.equal(new ThreadNamer({ normalize: true, maxPerGroup: 0 }).name('x-1', new Map()), 'x-N');
});
