/**
 * The identity rule of the taskstats thread path: a thread's start comes from reply time minus
 * ac_etime, known to within the send() that produced the reply; the same thread keeps its start, an
 * id reused by a thread that started after the last sighting gets a new one and a new CPU split.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { identify, type TaskMemory } from '../../../src/host/taskstats-counters.js';

function fresh(): TaskMemory {
  return { userUs: 0, systemUs: 0, seen: 0, startTicks: -1, seenUs: 0 };
}

test('a thread keeps the start of its first reply while the windows jitter', () => {
  const m = fresh();
  // started at 5.000 s; seen at 10 s within a 2 ms send (window [9.999, 10.001] s)
  assert.equal(identify(m, 4_999_000, 5_001_000, 10_001_000), 500);
  m.userUs = 700;
  m.systemUs = 300;
  // next cycle, a send slowed to 80 ms by load: the estimate moves by 8 ticks, the start does not
  assert.equal(identify(m, 4_920_000, 5_000_500, 20_000_500), 500);
  assert.deepEqual([m.userUs, m.systemUs, m.seenUs], [700, 300, 20_000_500], 'split kept, last sighting moved');
});

const cases = [
  // [what, startLo, startHi, seen, new identity]
  ['started before the last sighting: the same thread', 19_000_000, 19_002_000, 30_000_000, false],
  ['started within the last send: taken as the same (a reuse needs pid_max ids in between)', 20_000_000, 20_001_000, 30_000_000, false],
  ['started after the last sighting: a reused id', 20_000_600, 20_002_000, 30_000_000, true],
] as const;

for (const [what, lo, hi, seen, isNew] of cases) {
  test(`identity: ${what}`, () => {
    const m = fresh();
    identify(m, 4_999_000, 5_001_000, 20_000_500);
    m.userUs = 900;
    m.systemUs = 100;
    const start = identify(m, lo, hi, seen);
    if (isNew) {
      assert.equal(start, Math.floor((lo + hi) / 2 / 10_000));
      assert.deepEqual([m.userUs, m.systemUs], [0, 0], 'a new thread starts a new split');
    } else {
      assert.equal(start, 500);
      assert.deepEqual([m.userUs, m.systemUs], [900, 100]);
    }
    assert.equal(m.seenUs, seen);
  });
}
