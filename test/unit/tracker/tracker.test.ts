import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { parseConfig } from '../../../src/config/load.js';
import { Grouper } from '../../../src/grouper/grouper.js';
import type { CycleSnapshot, GroupSnapshot } from '../../../src/grouper/snapshot.js';
import { Tracker } from '../../../src/tracker/tracker.js';
import { ProcfsTree } from '../../helpers/procfs-tree.js';
import { Host } from '../../../src/host/host.js';

const trees: ProcfsTree[] = [];
after(() => trees.forEach((t) => t.cleanup()));

const CONFIG = `
process_names:
  - name: "{{.Comm}}"
    comm: [app, other, svc]
`;

function setup(opts: { children?: boolean; threads?: boolean; removeEmptyGroups?: boolean } = {}) {
  const tree = new ProcfsTree();
  trees.push(tree);
  const { matcher } = parseConfig(CONFIG, 'test.yaml');
  const tracker = new Tracker({
    host: new Host({ procfsRoot: tree.root }),
    matcher,
    children: opts.children ?? true,
    threads: opts.threads ?? true,
    threadDetails: false,
    gatherSmaps: false,
    recheck: false,
    pageSize: 4096,
  });
  const grouper = new Grouper({ removeEmptyGroups: opts.removeEmptyGroups ?? false, gatherSmaps: false, threadNameTtlCycles: 40 });
  const cycle = async (): Promise<CycleSnapshot> => grouper.apply(await tracker.update(), 0, 0);
  return { tree, cycle };
}

function group(s: CycleSnapshot, name: string): GroupSnapshot {
  const g = s.groups.find((x) => x.name === name);
  assert.ok(g, `group ${name} missing; have ${s.groups.map((x) => x.name).join(',')}`);
  return g;
}
const cpu = (g: GroupSnapshot) => Math.round((g.cpu.user + g.cpu.system) * 100) / 100;
const threadCpu = (g: GroupSnapshot) => Math.round([...g.threads.values()].reduce((a, t) => a + t.cpu.user + t.cpu.system, 0) * 100) / 100;

test('first cycle is the baseline; later increments are credited', async () => {
  const { tree, cycle } = setup();
  tree.set({ pid: 10, ppid: 1, comm: 'app', startTime: 100, utime: 500, stime: 100 });
  let s = await cycle();
  assert.equal(cpu(group(s, 'app')), 0);
  assert.equal(group(s, 'app').numProcs, 1);
  tree.set({ pid: 10, ppid: 1, comm: 'app', startTime: 100, utime: 530, stime: 110 });
  s = await cycle();
  assert.equal(cpu(group(s, 'app')), 0.4);
  assert.equal(Math.round(group(s, 'app').cpu.user * 100), 30);
});

test('a process first seen after start-up is credited with all its CPU, reaped children included', async () => {
  const { tree, cycle } = setup();
  await cycle();
  tree.set({ pid: 20, ppid: 1, comm: 'app', startTime: 200, utime: 70, stime: 30, cutime: 50, cstime: 0 });
  const s = await cycle();
  assert.equal(cpu(group(s, 'app')), 1.5);
});

test('a process first seen later that started before the first cycle adds only what it does from then on', async () => {
  const { tree, cycle } = setup();
  tree.setUptime(10); // the first cycle runs 1000 ticks after boot
  await cycle();
  tree.setUptime(20);
  // started at tick 900, before the first cycle; first seen now (e.g. it was unreadable before)
  tree.set({ pid: 21, ppid: 1, comm: 'app', startTime: 900, utime: 70, stime: 30, cutime: 50, readBytes: 4096 });
  // started at tick 1001, just after it: everything, reaped children included
  tree.set({ pid: 22, ppid: 1, comm: 'other', startTime: 1001, utime: 7, stime: 3, cutime: 5, readBytes: 8192 });
  let s = await cycle();
  assert.equal(cpu(group(s, 'app')), 0);
  assert.equal(group(s, 'app').readBytes, 0);
  assert.equal(group(s, 'app').numProcs, 1);
  assert.equal(cpu(group(s, 'other')), 0.15);
  assert.equal(group(s, 'other').readBytes, 8192);
  tree.set({ pid: 21, ppid: 1, comm: 'app', startTime: 900, utime: 90, stime: 30, cutime: 60, readBytes: 5000 });
  s = await cycle();
  assert.equal(cpu(group(s, 'app')), 0.3);
  assert.equal(group(s, 'app').readBytes, 5000 - 4096);
});

test('counters never decrease when all processes exit, and a reused pid is a new process', async () => {
  const { tree, cycle } = setup();
  tree.set({ pid: 30, ppid: 1, comm: 'app', startTime: 300, utime: 100 });
  await cycle();
  tree.set({ pid: 30, ppid: 1, comm: 'app', startTime: 300, utime: 300 });
  let s = await cycle();
  assert.equal(cpu(group(s, 'app')), 2);
  tree.remove(30);
  s = await cycle();
  assert.equal(cpu(group(s, 'app')), 2, 'group keeps its counter after its last process exits');
  assert.equal(group(s, 'app').numProcs, 0);
  assert.equal(group(s, 'app').oldestStartTime, undefined);
  // same pid, later start time, fewer ticks: a new identity, credited in full, no decrease
  tree.set({ pid: 30, ppid: 1, comm: 'app', startTime: 900, utime: 10 });
  s = await cycle();
  assert.equal(cpu(group(s, 'app')), 2.1);
  // pid reused between two cycles without a gap
  tree.set({ pid: 30, ppid: 1, comm: 'app', startTime: 950, utime: 5 });
  s = await cycle();
  assert.equal(cpu(group(s, 'app')), 2.15);
});

test('remove-empty-groups forgets a group with no process', async () => {
  const { tree, cycle } = setup({ removeEmptyGroups: true });
  tree.set({ pid: 31, ppid: 1, comm: 'app', startTime: 300 });
  await cycle();
  tree.remove(31);
  const s = await cycle();
  assert.equal(s.groups.find((g) => g.name === 'app'), undefined);
});

test('unmatched descendants fold into the tracked ancestor (children on), not otherwise', async () => {
  for (const children of [true, false]) {
    const { tree, cycle } = setup({ children });
    tree.set({ pid: 40, ppid: 1, comm: 'app', startTime: 400 });
    tree.set({ pid: 41, ppid: 40, comm: 'helper', startTime: 401 });
    tree.set({ pid: 42, ppid: 41, comm: 'grandchild', startTime: 402 });
    tree.set({ pid: 43, ppid: 1, comm: 'stranger', startTime: 403 });
    const s = await cycle();
    assert.equal(group(s, 'app').numProcs, children ? 3 : 1);
    assert.equal(s.groups.length, 1, 'the unmatched stranger forms no group');
  }
});

test('a reaped child adds only its unseen tail to the parent group (no double counting)', async () => {
  const { tree, cycle } = setup();
  tree.set({ pid: 50, ppid: 1, comm: 'app', startTime: 500, utime: 10 });
  tree.set({ pid: 51, ppid: 50, comm: 'worker', startTime: 501, utime: 100, stime: 20 });
  await cycle();
  tree.set({ pid: 51, ppid: 50, comm: 'worker', startTime: 501, utime: 300, stime: 50 });
  let s = await cycle();
  assert.equal(cpu(group(s, 'app')), 2.3);
  // the child burns 40 more ticks, exits and is reaped: parent's cutime+cstime grows by its total (390)
  tree.remove(51);
  tree.set({ pid: 50, ppid: 1, comm: 'app', startTime: 500, utime: 10, cutime: 330, cstime: 60 });
  s = await cycle();
  assert.equal(cpu(group(s, 'app')), 2.7, '2.3 seen before + 0.4 tail');
  assert.equal(threadCpu(group(s, 'app')), cpu(group(s, 'app')), 'thread totals follow the process totals');
});

test('grandchild and child both gone: credited through the vanished intermediate', async () => {
  const { tree, cycle } = setup();
  tree.set({ pid: 60, ppid: 1, comm: 'app', startTime: 600 });
  tree.set({ pid: 61, ppid: 60, comm: 'sh', startTime: 601, utime: 10 });
  tree.set({ pid: 62, ppid: 61, comm: 'burn', startTime: 602, utime: 100 });
  await cycle();
  let s = await cycle();
  assert.equal(cpu(group(s, 'app')), 0);
  // burn ran 50 more ticks, sh reaped it (cutime 150) and ran 5 more itself, then app reaped sh
  tree.remove(62);
  tree.remove(61);
  tree.set({ pid: 60, ppid: 1, comm: 'app', startTime: 600, cutime: 15 + 150 });
  s = await cycle();
  assert.equal(cpu(group(s, 'app')), 0.55);
});

test('children that lived entirely between two cycles are credited via cutime/cstime', async () => {
  const { tree, cycle } = setup();
  tree.set({ pid: 70, ppid: 1, comm: 'app', startTime: 700 });
  await cycle();
  for (let i = 1; i <= 5; i++) {
    tree.set({ pid: 70, ppid: 1, comm: 'app', startTime: 700, cutime: 40 * i, cstime: 10 * i });
    const s = await cycle();
    assert.equal(cpu(group(s, 'app')), 0.5 * i);
  }
});

test('reap seen before the parent grows (read race) is settled later, never double counted', async () => {
  const { tree, cycle } = setup();
  tree.set({ pid: 80, ppid: 1, comm: 'app', startTime: 800 });
  tree.set({ pid: 81, ppid: 80, comm: 'w', startTime: 801, utime: 200 });
  await cycle();
  // child gone, but the parent's cutime not grown yet in this read
  tree.remove(81);
  let s = await cycle();
  assert.equal(cpu(group(s, 'app')), 0);
  tree.set({ pid: 80, ppid: 1, comm: 'app', startTime: 800, cutime: 230 });
  s = await cycle();
  assert.equal(cpu(group(s, 'app')), 0.3, 'only the 30-tick tail');
});

test('thread CPU: live threads by name, exited threads kept under the main thread name', async () => {
  const { tree, cycle } = setup();
  const base = { pid: 90, ppid: 1, comm: 'app', startTime: 900 };
  tree.set({ ...base, utime: 30, threads: [{ tid: 90, comm: 'app', utime: 10, stime: 0 }, { tid: 91, comm: 'pool', utime: 10, stime: 0 }, { tid: 92, comm: 'pool', utime: 10, stime: 0 }] });
  await cycle();
  tree.set({ ...base, utime: 90, threads: [{ tid: 90, comm: 'app', utime: 20, stime: 0 }, { tid: 91, comm: 'pool', utime: 30, stime: 0 }, { tid: 92, comm: 'pool', utime: 40, stime: 0 }] });
  let s = await cycle();
  let g = group(s, 'app');
  assert.equal(g.threads.get('pool')?.count, 2);
  assert.equal(Math.round((g.threads.get('pool')?.cpu.user ?? 0) * 100), 50);
  assert.equal(threadCpu(g), cpu(g));
  // thread 92 exits after 10 more ticks: the process keeps them, 92 is gone from task/
  tree.set({ ...base, utime: 100, threads: [{ tid: 90, comm: 'app', utime: 20, stime: 0 }, { tid: 91, comm: 'pool', utime: 30, stime: 0 }] });
  s = await cycle();
  g = group(s, 'app');
  assert.equal(g.threads.get('pool')?.count, 1);
  assert.equal(cpu(g), 0.7);
  assert.equal(threadCpu(g), cpu(g), 'exited thread CPU kept in the thread totals');
});

test('unaccounted CPU: host process CPU minus all groups, since start-up, never decreasing', async () => {
  const { tree, cycle } = setup();
  tree.setHost(10_000, 2_000);
  tree.set({ pid: 100, ppid: 1, comm: 'app', startTime: 1000, utime: 50 });
  let s = await cycle();
  assert.equal(s.host.unaccounted, 0);
  assert.equal(s.host.user, 100);
  tree.setHost(10_300, 2_100); // +4 s of host CPU
  tree.set({ pid: 100, ppid: 1, comm: 'app', startTime: 1000, utime: 350 }); // +3 s in a group
  s = await cycle();
  assert.equal(Math.round(s.host.unaccounted * 100) / 100, 1);
  tree.setHost(10_400, 2_100); // +1 s host
  tree.set({ pid: 100, ppid: 1, comm: 'app', startTime: 1000, utime: 500 }); // +1.5 s groups (skew)
  s = await cycle();
  assert.equal(Math.round(s.host.unaccounted * 100) / 100, 1, 'never decreases');
});

test('-recheck moves a process whose command line changed; its old group keeps what it had', async () => {
  const tree = new ProcfsTree();
  trees.push(tree);
  const config = `process_names:\n  - name: "mode-{{.Matches.Mode}}"\n    cmdline: ['--mode=(?P<Mode>\\w+)']\n`;
  for (const recheck of [false, true]) {
    const { matcher } = parseConfig(config, 'recheck.yaml');
    const tracker = new Tracker({ host: new Host({ procfsRoot: tree.root }), matcher, children: true, threads: false, threadDetails: false, gatherSmaps: false, recheck, pageSize: 4096 });
    const grouper = new Grouper({ removeEmptyGroups: false, gatherSmaps: false, threadNameTtlCycles: 40 });
    const cycle = async () => grouper.apply(await tracker.update(), 0, 0);
    tree.set({ pid: 5, ppid: 1, comm: 'srv', startTime: 50, utime: 0, cmdline: ['srv', '--mode=a'] });
    await cycle();
    tree.set({ pid: 5, ppid: 1, comm: 'srv', startTime: 50, utime: 100, cmdline: ['srv', '--mode=a'] });
    await cycle();
    tree.set({ pid: 5, ppid: 1, comm: 'srv', startTime: 50, utime: 300, cmdline: ['srv', '--mode=b'] });
    const s = await cycle();
    if (recheck) {
      assert.equal(cpu(group(s, 'mode-a')), 1, 'old group keeps its counter');
      assert.equal(group(s, 'mode-a').numProcs, 0);
      assert.equal(cpu(group(s, 'mode-b')), 2, 'new increments go to the new group');
    } else {
      assert.equal(cpu(group(s, 'mode-a')), 3, 'without -recheck the first match sticks');
      assert.equal(s.groups.find((g) => g.name === 'mode-b'), undefined);
    }
  }
});

test('I/O bytes: baseline at start-up, increments later, newcomers in full', async () => {
  const { tree, cycle } = setup();
  tree.set({ pid: 110, ppid: 1, comm: 'app', startTime: 1100, readBytes: 5000 });
  let s = await cycle();
  assert.equal(group(s, 'app').readBytes, 0);
  tree.set({ pid: 110, ppid: 1, comm: 'app', startTime: 1100, readBytes: 5600 });
  s = await cycle();
  assert.equal(group(s, 'app').readBytes, 600);
  tree.set({ pid: 111, ppid: 1, comm: 'app', startTime: 1110, readBytes: 70 });
  s = await cycle();
  assert.equal(group(s, 'app').readBytes, 670, 'a newcomer brings all its bytes');
  assert.equal(group(s, 'app').voluntaryCtxSwitches, 1, "the newcomer's context switch (the first process's did not change)");
});
