import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { parseConfig } from '../../../src/config/load.js';
import { Grouper } from '../../../src/grouper/grouper.js';
import type { CycleSnapshot, GroupSnapshot } from '../../../src/grouper/snapshot.js';
import { Tracker } from '../../../src/tracker/tracker.js';
import { type FakeProc, ProcfsTree } from '../../helpers/procfs-tree.js';
import { Host } from '../../../src/host/host.js';

/*
 * The tracker lists task/ only when a process's thread set may have changed (a different thread
 * count, or a known thread gone or replaced). These cases change the set while keeping the count.
 */

const trees: ProcfsTree[] = [];
after(() => trees.forEach((t) => t.cleanup()));

function setup() {
  const tree = new ProcfsTree();
  trees.push(tree);
  const { matcher } = parseConfig('process_names:\n  - name: "{{.Comm}}"\n    comm: [app]\n', 'test.yaml');
  const tracker = new Tracker({ host: new Host({ procfsRoot: tree.root }), matcher, children: true, threads: true, threadDetails: false, gatherSmaps: false, recheck: false, pageSize: 4096 });
  const grouper = new Grouper({ removeEmptyGroups: false, gatherSmaps: false, threadNameTtlCycles: 40 });
  const cycle = async (): Promise<GroupSnapshot> => {
    const s: CycleSnapshot = grouper.apply(await tracker.update(), 0, 0);
    const g = s.groups.find((x) => x.name === 'app');
    assert.ok(g);
    return g;
  };
  return { tree, cycle };
}

const base = { pid: 90, ppid: 1, comm: 'app', startTime: 900 };
type Thread = NonNullable<FakeProc['threads']>[number];
const counts = (g: GroupSnapshot): Record<string, number> => Object.fromEntries([...g.threads].filter(([, t]) => t.count > 0).map(([n, t]) => [n, t.count]));
const cpuOf = (g: GroupSnapshot, name: string): number => Math.round(((g.threads.get(name)?.cpu.user ?? 0) + (g.threads.get(name)?.cpu.system ?? 0)) * 100);

test('a thread replaced by another under a new tid, same count: the new one is found', async () => {
  const { tree, cycle } = setup();
  const main: Thread = { tid: 90, comm: 'app', utime: 10, stime: 0 };
  tree.set({ ...base, utime: 20, threads: [main, { tid: 91, comm: 'pool', utime: 10, stime: 0 }] });
  await cycle();
  tree.set({ ...base, utime: 45, threads: [main, { tid: 93, comm: 'io', utime: 5, stime: 0, startTime: 950 }] });
  const g = await cycle();
  assert.deepEqual(counts(g), { app: 1, io: 1 });
  assert.equal(cpuOf(g, 'io'), 5, 'a thread first seen after start-up is credited in full');
});

test('a tid reused by a new thread, same count: seen as a new thread', async () => {
  const { tree, cycle } = setup();
  const main: Thread = { tid: 90, comm: 'app', utime: 10, stime: 0 };
  tree.set({ ...base, utime: 60, threads: [main, { tid: 91, comm: 'pool', utime: 50, stime: 0 }] });
  await cycle();
  tree.set({ ...base, utime: 63, threads: [main, { tid: 91, comm: 'gc', utime: 3, stime: 0, startTime: 990 }] });
  const g = await cycle();
  assert.deepEqual(counts(g), { app: 1, gc: 1 });
  assert.equal(cpuOf(g, 'gc'), 3, 'fewer ticks than the old thread: a new identity, not a decrease');
});

test('an unchanged thread set keeps crediting every thread', async () => {
  const { tree, cycle } = setup();
  const threads = (u: number): Thread[] => [
    { tid: 90, comm: 'app', utime: u, stime: 0 },
    { tid: 91, comm: 'pool', utime: 2 * u, stime: u },
    { tid: 92, comm: 'pool', utime: u, stime: 0 },
  ];
  tree.set({ ...base, utime: 40, stime: 10, threads: threads(10) });
  await cycle();
  tree.set({ ...base, utime: 80, stime: 20, threads: threads(20) });
  await cycle();
  tree.set({ ...base, utime: 120, stime: 30, threads: threads(30) });
  const g = await cycle();
  assert.deepEqual(counts(g), { app: 1, pool: 2 });
  assert.equal(cpuOf(g, 'pool'), 80, 'two cycles of 91: 3 x 10 ticks and 92: 10 ticks');
  assert.equal(cpuOf(g, 'app'), 20);
});

test('a thread gone and the count unchanged by a new one: the gone one is dropped, the new one found', async () => {
  const { tree, cycle } = setup();
  const main: Thread = { tid: 90, comm: 'app', utime: 10, stime: 0 };
  tree.set({ ...base, utime: 30, threads: [main, { tid: 91, comm: 'pool', utime: 10, stime: 0 }, { tid: 92, comm: 'pool', utime: 10, stime: 0 }] });
  await cycle();
  // 91 exits, 94 starts: still three threads
  tree.set({ ...base, utime: 31, threads: [main, { tid: 92, comm: 'pool', utime: 10, stime: 0 }, { tid: 94, comm: 'io', utime: 1, stime: 0, startTime: 960 }] });
  const g = await cycle();
  assert.deepEqual(counts(g), { app: 1, pool: 1, io: 1 });
});
