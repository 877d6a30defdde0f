import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COUNTERS, emptyTaskCounters } from '../../../src/host/counter-source.js';
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
    counters: () => 0,
    wchan: () => '',
  };
  const owner: ThreadOwner<ThreadRef, null> = {
    pid: 1, files: null, comm: 'main', stat: emptyPidStat(), threads: [], threadUser: 0, threadSystem: 0, liveThreads: 0,
    threadCarryUser: 0, threadCarrySystem: 0, residual: zeroThreadUpdate('main', 0), update: { delta: zeroDelta(), threads: [] },
    own: { counters: emptyTaskCounters(), read: 0, wchan: '' }, threadVol: 0, threadNonvol: 0, threadVolTotal: 0, threadNonvolTotal: 0,
  };
  return cycles.map(({ phase, threads, processCpu }, i) => {
    now = threads;
    const main = threads.find(([tid]) => tid === 1) ?? [1, 0, 0];
    owner.stat = stat(1, main, threads.length);
    readThreads(owner, source, i + 1, phase, emptyTaskCounters(), { details: false, wchan: false });
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

/** A thread with its context switches: tid, start time, voluntary, nonvoluntary. */
type C = [tid: number, start: number, vol: number, nonvol: number];

/** The process's context-switch increments per cycle (voluntary, nonvoluntary), and the per-thread reads made. */
function ctx(cycles: Array<{ phase: Phase; threads: C[]; own: [vol: number, nonvol: number] }>): { credits: Array<[number, number]>; threadReads: number } {
  let now: C[] = [];
  let threadReads = 0;
  const source: ThreadSource<ThreadRef, null> = {
    ref: (_pid, tid) => ({ tid }),
    stat: (ref) => {
      const t = now.find(([tid]) => tid === ref.tid);
      return t ? { ...emptyPidStat(), pid: t[0], comm: `t${t[0]}`, startTime: t[1], numThreads: 1 } : undefined;
    },
    list: () => now.map(([tid]) => tid),
    counters: (ref, want, into) => {
      threadReads++;
      const t = now.find(([tid]) => tid === ref.tid);
      if (!t || !(want & COUNTERS.ctxSwitches)) return 0;
      into.voluntaryCtxSwitches = t[2];
      into.nonvoluntaryCtxSwitches = t[3];
      return COUNTERS.ctxSwitches;
    },
    wchan: () => '',
  };
  const owner: ThreadOwner<ThreadRef, null> = {
    pid: 1, files: null, comm: 'main', stat: emptyPidStat(), threads: [], threadUser: 0, threadSystem: 0, liveThreads: 0,
    threadCarryUser: 0, threadCarrySystem: 0, residual: zeroThreadUpdate('main', 0), update: { delta: zeroDelta(), threads: [] },
    own: { counters: emptyTaskCounters(), read: COUNTERS.ctxSwitches, wchan: '' }, threadVol: 0, threadNonvol: 0, threadVolTotal: 0, threadNonvolTotal: 0,
  };
  const credits = cycles.map(({ phase, threads, own }, i): [number, number] => {
    now = threads;
    owner.stat = { ...emptyPidStat(), pid: 1, startTime: 5, numThreads: threads.length };
    // the process's own status: its leader's count only
    [owner.own.counters.voluntaryCtxSwitches, owner.own.counters.nonvoluntaryCtxSwitches] = own;
    readThreads(owner, source, i + 1, phase, emptyTaskCounters(), { details: false, wchan: false });
    return [owner.threadVol, owner.threadNonvol];
  });
  return { credits, threadReads };
}

test('context switches: the sum over every thread, a thread that exits keeps what it had, one thread reads no task/ files', () => {
  // three threads; then thread 3 exits; then the process is down to its leader
  const { credits } = ctx([
    { phase: BASELINE, threads: [[1, 5, 10, 1], [2, 6, 100, 20], [3, 7, 50, 5]], own: [10, 1] },
    { phase: KNOWN, threads: [[1, 5, 12, 1], [2, 6, 160, 25], [3, 7, 90, 9]], own: [12, 1] },
    { phase: KNOWN, threads: [[1, 5, 15, 2], [2, 6, 200, 25]], own: [15, 2] },
    { phase: KNOWN, threads: [[1, 5, 19, 2]], own: [19, 2] },
  ]);
  assert.deepEqual(credits, [[0, 0], [2 + 60 + 40, 0 + 5 + 4], [3 + 40, 1], [4, 0]]);
  // a newcomer's threads count whole; a thread started since the last cycle too
  assert.deepEqual(ctx([{ phase: NEWCOMER, threads: [[1, 5, 3, 1], [2, 6, 30, 2]], own: [3, 1] }]).credits, [[33, 3]]);
  assert.deepEqual(
    ctx([
      { phase: BASELINE, threads: [[1, 5, 3, 1], [2, 6, 30, 2]], own: [3, 1] },
      { phase: KNOWN, threads: [[1, 5, 3, 1], [2, 6, 30, 2], [4, 9, 8, 1]], own: [3, 1] },
    ]).credits,
    [[0, 0], [8, 1]],
  );
  // single-threaded: the process's own status, no per-thread reads
  const single = ctx([
    { phase: BASELINE, threads: [[1, 5, 10, 1]], own: [10, 1] },
    { phase: KNOWN, threads: [[1, 5, 17, 3]], own: [17, 3] },
  ]);
  assert.deepEqual(single.credits, [[0, 0], [7, 2]]);
  assert.equal(single.threadReads, 0);
});
