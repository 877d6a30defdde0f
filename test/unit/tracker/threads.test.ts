import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyTaskCounters } from '../../../src/host/counter-source.js';
import { emptyPidStat, type PidStat } from '../../../src/procfs/pid-stat.js';
import { BASELINE, KNOWN, NEWCOMER, type Phase } from '../../../src/tracker/delta.js';
import { creditThreadResidual, readThreads, type ThreadOwner, type ThreadRef, type ThreadSource } from '../../../src/tracker/threads.js';
import { zeroDelta, zeroThreadUpdate } from '../../../src/tracker/updates.js';

/** A thread as the table gives it: tid, start time, utime ticks. */
type T = [tid: number, start: number, utime: number];

const stat = (pid: number, [tid, start, utime]: T, numThreads: number): PidStat =>
  ({ ...emptyPidStat(), pid: tid, comm: `t${tid}`, startTime: start, utime, numThreads: pid === tid ? numThreads : 1 });

/** In-memory threads of process 1: each cycle the live threads and the process's CPU delta (seconds). */
function run(cycles: Array<{ phase: Phase; threads: T[]; processCpu: number }>): Array<Record<string, number>> {
  let now: T[] = [];
  const source: ThreadSource<ThreadRef, null> = {
    ref: (_pid, tid) => ({ tid }),
    stat: (ref) => {
      const t = now.find(([tid]) => tid === ref.tid);
      return t ? stat(-1, t, 1) : undefined;
    },
    list: () => now.map(([tid]) => tid),
    details: () => 0,
  };
  const owner: ThreadOwner<ThreadRef, null> = {
    pid: 1, files: null, comm: 'main', stat: emptyPidStat(), threads: [], threadUser: 0, threadSystem: 0, liveThreads: 0,
    threadCarryUser: 0, threadCarrySystem: 0, residual: zeroThreadUpdate('main', 0), update: { delta: zeroDelta(), threads: [] },
  };
  return cycles.map(({ phase, threads, processCpu }, i) => {
    now = threads;
    const main = threads.find(([tid]) => tid === 1) ?? [1, 0, 0];
    owner.stat = stat(1, main, threads.length);
    readThreads(owner, source, i + 1, phase, emptyTaskCounters(), { details: false });
    owner.update.delta.cpuUser = processCpu;
    creditThreadResidual(owner);
    return Object.fromEntries(owner.update.threads.map((t) => [t.alive ? t.name : 'exited', Math.round(t.cpuUser * 100)]));
  });
}

test('threads: table of credits (ticks, by thread name; "exited" is the residual entry)', () => {
  const table: Array<[string, Parameters<typeof run>[0], Array<Record<string, number>>]> = [
    ['baseline credits nothing', [{ phase: BASELINE, threads: [[1, 5, 100], [2, 6, 50]], processCpu: 0 }], [{ t1: 0, t2: 0 }]],
    ['a thread of a newcomer process is credited whole', [{ phase: NEWCOMER, threads: [[1, 5, 10], [2, 6, 4]], processCpu: 0.14 }], [{ t1: 10, t2: 4 }]],
    ['known threads: the growth; a new thread: all of it', [
      { phase: BASELINE, threads: [[1, 5, 100], [2, 6, 50]], processCpu: 0 },
      { phase: KNOWN, threads: [[1, 5, 110], [2, 6, 55], [3, 9, 7]], processCpu: 0.22 },
    ], [{ t1: 0, t2: 0 }, { t1: 10, t2: 5, t3: 7 }]],
    ['a thread that exited: its last CPU goes to the residual, under the process name', [
      { phase: BASELINE, threads: [[1, 5, 100], [2, 6, 50]], processCpu: 0 },
      { phase: KNOWN, threads: [[1, 5, 110]], processCpu: 0.13 },
    ], [{ t1: 0, t2: 0 }, { t1: 10, exited: 3 }]],
    ['tid reused (new start time) is a new thread, credited whole', [
      { phase: BASELINE, threads: [[1, 5, 100], [2, 6, 50]], processCpu: 0 },
      { phase: KNOWN, threads: [[1, 5, 100], [2, 40, 4]], processCpu: 0.04 },
    ], [{ t1: 0, t2: 0 }, { t1: 0, t2: 4 }]],
  ];
  for (const [name, cycles, want] of table) assert.deepEqual(run(cycles), want, name);
});
