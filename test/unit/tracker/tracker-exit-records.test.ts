import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { parseConfig } from '../../../src/config/load.js';
import { Grouper } from '../../../src/grouper/grouper.js';
import type { CycleSnapshot, GroupSnapshot } from '../../../src/grouper/snapshot.js';
import type { ExitRecord } from '../../../src/tracker/exit-credit.js';
import { Host } from '../../../src/host/host.js';
import { Tracker } from '../../../src/tracker/tracker.js';
import { zeroDelta } from '../../../src/tracker/updates.js';
import { ProcfsTree } from '../../helpers/procfs-tree.js';

/**
 * The hand-over between exit records and the cutime fallback, on a procfs-shaped tree written by
 * the test (exact ticks) and records handed in as the listener would after each walk.
 */
const trees: ProcfsTree[] = [];
after(() => trees.forEach((t) => t.cleanup()));

const BOOT = 1_700_000_000; // btime of ProcfsTree's /proc/stat

function setup() {
  const tree = new ProcfsTree();
  trees.push(tree);
  const { matcher } = parseConfig('process_names:\n  - name: "{{.Comm}}"\n    comm: [app, svc]\n', 'test.yaml');
  let pending: ExitRecord[] = [];
  const tracker = new Tracker({
    host: new Host({ procfsRoot: tree.root }),
    matcher,
    children: true,
    threads: true,
    threadDetails: false,
    gatherSmaps: false,
    recheck: false,
    pageSize: 4096,
    exitRecords: {
      drain: () => {
        const out = pending;
        pending = [];
        return out;
      },
      received: 0,
      lost: 0,
      delayAccounting: false,
      close: () => undefined,
    },
  });
  const grouper = new Grouper({ removeEmptyGroups: false, gatherSmaps: false, threadNameTtlCycles: 40 });
  /** one cycle; `records` are those the listener holds by the time the walk has listed the pids */
  const cycle = async (records: ExitRecord[] = []): Promise<CycleSnapshot> => {
    pending.push(...records);
    return grouper.apply(await tracker.update(), 0, 0);
  };
  return { tree, cycle };
}

/** A single-threaded process's exit record: CPU in ticks as /proc counts it, split 3:1 like the tree's. */
function exitRecord(pid: number, ppid: number, comm: string, startTicks: number, cpuTicks: number, extra: Partial<ExitRecord['counters']> = {}): ExitRecord {
  const cpu = cpuTicks / 100;
  return {
    pid,
    tgid: pid,
    ppid,
    uid: 0,
    comm,
    startSeconds: BOOT + startTicks / 100,
    groupDead: true,
    counters: { ...zeroDelta(), cpuUser: cpu, cpuSystem: 0, ...extra },
    delays: { cpu: 0.001, blkio: 0.002, swapin: 0, reclaim: 0 },
    groupCpuSeconds: undefined,
  };
}

function group(s: CycleSnapshot, name: string): GroupSnapshot {
  const g = s.groups.find((x) => x.name === name);
  assert.ok(g, `group ${name} missing; have ${s.groups.map((x) => x.name).join(',')}`);
  return g;
}
const cpu = (g: GroupSnapshot) => Math.round((g.cpu.user + g.cpu.system) * 100) / 100;

test('record in the cycle whose walk misses the child: its tail once, the parent cutime growth not again', async () => {
  const { tree, cycle } = setup();
  tree.set({ pid: 50, ppid: 1, comm: 'app', startTime: 500, utime: 10 });
  tree.set({ pid: 51, ppid: 50, comm: 'worker', startTime: 501, utime: 100 });
  await cycle();
  tree.set({ pid: 51, ppid: 50, comm: 'worker', startTime: 501, utime: 300 });
  let s = await cycle();
  assert.equal(cpu(group(s, 'app')), 2);
  // the child burns 40 more ticks, writes 1 MiB, exits and is reaped: the parent's cutime grows by 340
  tree.remove(51);
  tree.set({ pid: 50, ppid: 1, comm: 'app', startTime: 500, utime: 10, cutime: 340 });
  s = await cycle([exitRecord(51, 50, 'worker', 501, 340, { writeBytes: 1 << 20, voluntaryCtxSwitches: 12 })]);
  const g = group(s, 'app');
  assert.equal(cpu(g), 2.4, '2.0 seen + 0.4 tail, the cutime growth not counted again');
  assert.equal(g.writeBytes, 1 << 20, "the exited child's I/O");
  assert.equal(g.voluntaryCtxSwitches, 12 - 1, "the record's 12 minus the 1 its status showed at the last walk");
  assert.equal(g.processesExited, 1);
  s = await cycle();
  assert.equal(cpu(group(s, 'app')), 2.4, 'nothing later either');
});

test('record before the walk that sees the exit: the zombie still listed adds nothing, nor its reaping', async () => {
  const { tree, cycle } = setup();
  tree.set({ pid: 60, ppid: 1, comm: 'app', startTime: 600 });
  tree.set({ pid: 61, ppid: 60, comm: 'worker', startTime: 601, utime: 100 });
  await cycle();
  // exited after this walk read it at 150 ticks, before the drain: record of 170
  tree.set({ pid: 61, ppid: 60, comm: 'worker', startTime: 601, utime: 150 });
  let s = await cycle([exitRecord(61, 60, 'worker', 601, 170)]);
  assert.equal(cpu(group(s, 'app')), 0.7, '0.5 walk delta + 0.2 tail from the record');
  // still a zombie (final 170 ticks shown), then reaped: the parent's cutime grows by 170
  tree.set({ pid: 61, ppid: 60, comm: 'worker', startTime: 601, utime: 170 });
  s = await cycle();
  assert.equal(cpu(group(s, 'app')), 0.7);
  tree.remove(61);
  tree.set({ pid: 60, ppid: 1, comm: 'app', startTime: 600, cutime: 170 });
  s = await cycle();
  assert.equal(cpu(group(s, 'app')), 0.7);
  assert.equal(group(s, 'app').processesExited, 1);
});

test('a lost record falls back to the cutime growth, minus what the walks counted', async () => {
  const { tree, cycle } = setup();
  tree.set({ pid: 70, ppid: 1, comm: 'app', startTime: 700 });
  tree.set({ pid: 71, ppid: 70, comm: 'worker', startTime: 701, utime: 100 });
  await cycle();
  tree.set({ pid: 71, ppid: 70, comm: 'worker', startTime: 701, utime: 200 });
  await cycle();
  tree.remove(71);
  // an unseen sibling (72) lived and died too, its record arrived; 71's was lost
  tree.set({ pid: 70, ppid: 1, comm: 'app', startTime: 700, cutime: 260 + 30 });
  const s = await cycle([exitRecord(72, 70, 'worker', 750, 30)]);
  assert.equal(cpu(group(s, 'app')), 1.9, '1.0 seen, 0.6 tail of 71 through cutime, 0.3 of 72 from its record');
  assert.equal(group(s, 'app').processesStarted, 1, 'only the unseen one is known to have started');
});

test("an unseen child matching another rule is that rule's, and its parent's cutime growth is not credited", async () => {
  const { tree, cycle } = setup();
  tree.set({ pid: 80, ppid: 1, comm: 'app', startTime: 800 });
  tree.set({ pid: 90, ppid: 1, comm: 'svc', startTime: 900 });
  await cycle();
  tree.set({ pid: 80, ppid: 1, comm: 'app', startTime: 800, cutime: 44 });
  const s = await cycle([exitRecord(81, 80, 'svc', 850, 44)]);
  assert.equal(cpu(group(s, 'svc')), 0.44);
  assert.equal(cpu(group(s, 'app')), 0);
  assert.deepEqual([group(s, 'svc').processesStarted, group(s, 'svc').processesExited], [1, 1]);
  const d = group(s, 'svc').delays;
  assert.ok(d && Math.abs(d.blkio - 0.002) < 1e-12 && Math.abs(d.cpu - 0.001) < 1e-12, JSON.stringify(d));
  assert.ok(group(s, 'svc').threads.has('svc'), 'thread CPU filed under the exited task');
});

test('with records, a newcomer is credited its own CPU; its reaped children came through their records', async () => {
  const { tree, cycle } = setup();
  tree.set({ pid: 5, ppid: 1, comm: 'other', startTime: 5 });
  await cycle();
  // 100 was born, reaped a child 101 (record: 0.3 s, ppid 100 not yet listed), and is seen now
  tree.set({ pid: 100, ppid: 1, comm: 'app', startTime: 1000, utime: 20, cutime: 30 });
  const s = await cycle([exitRecord(101, 100, 'app', 1001, 30)]);
  assert.equal(cpu(group(s, 'app')), 0.5, '0.2 own + 0.3 from the record, its cutime not again');
  assert.equal(group(s, 'app').processesStarted, 2);
});

test('a zombie credited whole from its record is not credited again when a walk first finds it', async () => {
  const { tree, cycle } = setup();
  tree.set({ pid: 5, ppid: 1, comm: 'other', startTime: 5 });
  await cycle();
  // born after the listing, dead before the drain: unseen, credited from its record
  let s = await cycle([exitRecord(110, 1, 'app', 1100, 25)]);
  assert.equal(cpu(group(s, 'app')), 0.25);
  tree.set({ pid: 110, ppid: 1, comm: 'app', startTime: 1100, utime: 25 });
  s = await cycle();
  assert.equal(cpu(group(s, 'app')), 0.25);
  assert.deepEqual([group(s, 'app').processesStarted, group(s, 'app').processesExited], [1, 1]);
  tree.remove(110);
  s = await cycle();
  assert.deepEqual([group(s, 'app').processesStarted, group(s, 'app').processesExited], [1, 1]);
});
