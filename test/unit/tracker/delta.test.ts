import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BASELINE, increment, KNOWN, NEWCOMER, phaseOf } from '../../../src/tracker/delta.js';

test('phase: first cycle is the baseline, later first sights are newcomers, then known', () => {
  assert.equal(phaseOf(1, 1), BASELINE);
  assert.equal(phaseOf(3, 3), NEWCOMER);
  assert.equal(phaseOf(1, 2), KNOWN);
});

test('one delta rule: baseline credits nothing, a newcomer all, a known identity the growth, never negative', () => {
  const rows: Array<[string, Parameters<typeof increment>, number]> = [
    ['baseline', [BASELINE, 500, 0], 0],
    ['newcomer', [NEWCOMER, 500, 0], 500],
    ['known', [KNOWN, 530, 500], 30],
    ['known, counter went back (pid reused, read race)', [KNOWN, 400, 500], 0],
  ];
  for (const [name, args, want] of rows) assert.equal(increment(...args), want, name);
});
