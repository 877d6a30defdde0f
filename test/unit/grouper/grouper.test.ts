import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Grouper, type GrouperOptions } from '../../../src/grouper/grouper.js';
import { ReadErrors } from '../../../src/host/read-errors.js';
import type { TrackerResult } from '../../../src/tracker/tracker.js';
import { type ProcessUpdate, type ThreadUpdate, zeroDelta, zeroThreadUpdate } from '../../../src/tracker/updates.js';

/** A process of group `g` with live threads given as [name, state, wchan]. */
function proc(pid: number, g: string, state: string, wchan: string, threads: Array<[string, string, string]>): ProcessUpdate {
  const live = threads.map(([name, s, w]): ThreadUpdate => ({ ...zeroThreadUpdate(name, 1), state: s, wchan: w, cpuUser: 1 }));
  return {
    groupKey: g,
    group: { name: g, labels: {} },
    member: { pid, ppid: 1, startTime: pid, comm: g, cgroupPath: undefined, container: undefined, numThreads: threads.length, residentBytes: 0, cpuUser: 0, cpuSystem: 0, rule: 0, inheritedFrom: undefined },
    delta: { ...zeroDelta(), cpuUser: threads.length },
    residentBytes: 0,
    virtualBytes: 0,
    swappedBytes: 0,
    pssBytes: undefined,
    swapPssBytes: undefined,
    openFds: 0,
    fdLimit: 1024,
    numThreads: threads.length,
    state,
    wchan,
    startTimeSeconds: 0,
    // exited threads' credit: counted as CPU, never as a live thread's state or wchan
    threads: [...live, { ...zeroThreadUpdate(threads[0]?.[0] ?? g, 0), cpuUser: 0.5, state: 'R', wchan: 'ignored' }],
  };
}

const host = { user: 0, nice: 0, system: 0, idle: 0, iowait: 0, irq: 0, softirq: 0, steal: 0, bootTime: 0 };
const cycle = (updates: ProcessUpdate[]): TrackerResult => ({ cycle: 1, updates, host, errors: new ReadErrors(), exits: [], exitRecords: undefined });
const options = (semantics: GrouperOptions['semantics']): GrouperOptions => ({ removeEmptyGroups: false, gatherSmaps: false, threadNameTtlCycles: 40, semantics });

const updates = () => [
  // a 3-thread process sleeping in futex_wait, one thread running (no wchan)
  proc(10, 'app', 'S', 'futex_do_wait', [
    ['app', 'S', 'futex_do_wait'],
    ['worker', 'S', 'ep_poll'],
    ['worker', 'R', ''],
  ]),
  // single-threaded processes: their own wchan only
  proc(20, 'app', 'S', 'do_wait', [['app', 'S', 'do_wait']]),
  proc(30, 'app', 'R', '', [['app', 'R', '']]),
];

test('wchans as process-exporter counts them: the process own, plus each thread of a multi-threaded one', () => {
  for (const semantics of ['default', 'process-exporter'] as const) {
    const g = new Grouper(options(semantics)).apply(cycle(updates()), 0, 0).groups[0];
    // pid 10 counts futex_do_wait twice (itself and its leader thread), like process-exporter
    assert.deepEqual(Object.fromEntries(g?.wchans ?? []), { futex_do_wait: 2, ep_poll: 1, do_wait: 1 }, semantics);
  }
});

test('states: one per process by default; process-exporter adds each thread of a multi-threaded process', () => {
  const ours = new Grouper(options('default')).apply(cycle(updates()), 0, 0).groups[0];
  assert.deepEqual(ours?.states, { running: 1, sleeping: 2, waiting: 0, zombie: 0, other: 0 });
  const pe = new Grouper(options('process-exporter')).apply(cycle(updates()), 0, 0).groups[0];
  assert.deepEqual(pe?.states, { running: 2, sleeping: 4, waiting: 0, zombie: 0, other: 0 });
});

test('thread rows: every process by default; process-exporter leaves out single-threaded processes', () => {
  const ours = new Grouper(options('default')).apply(cycle(updates()), 0, 0).groups[0];
  assert.deepEqual([...(ours?.threads ?? [])].map(([n, t]) => [n, t.count, t.cpu.user]), [
    ['app', 3, 3 + 3 * 0.5],
    ['worker', 2, 2],
  ]);
  const pe = new Grouper(options('process-exporter')).apply(cycle(updates()), 0, 0).groups[0];
  assert.deepEqual([...(pe?.threads ?? [])].map(([n, t]) => [n, t.count, t.cpu.user]), [
    ['app', 1, 1.5],
    ['worker', 2, 2],
  ]);
  // the group's own counters are the same either way
  assert.equal(pe?.cpu.user, ours?.cpu.user);
});
