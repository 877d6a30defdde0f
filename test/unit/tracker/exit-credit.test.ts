import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GroupAssignment } from '../../../src/config/attributes.js';
import { parseConfig } from '../../../src/config/load.js';
import { ExitAccounting, type ExitCycleResult, type ExitRecord, type ExitWorld, type TrackedView } from '../../../src/tracker/exit-credit.js';
import { type ProcessDelta, zeroDelta } from '../../../src/tracker/updates.js';

const { matcher } = parseConfig(
  `process_names:
  - name: "{{.Comm}}"
    comm: [app, svc]
  - name: "by-cmdline"
    cmdline: ['.*']
    comm: [script]
  - name: "by-uid-{{.Username}}"
    comm: [job]
`,
  'exit-credit.yaml',
);

const T0 = 1_700_000_000;

function counters(cpu: number, extra: Partial<ProcessDelta> = {}): ProcessDelta {
  return { ...zeroDelta(), cpuUser: cpu * 0.75, cpuSystem: cpu * 0.25, ...extra };
}

function rec(pid: number, ppid: number, comm: string, cpu: number, more: Partial<ExitRecord> = {}): ExitRecord {
  return { pid, tgid: pid, ppid, uid: 0, comm, startSeconds: T0, groupDead: true, counters: counters(cpu), delays: undefined, groupCpuSeconds: undefined, ...more };
}

const group = (name: string): GroupAssignment => ({ name, labels: {} });

/** A world of tracked processes (live or vanished this cycle) and untracked live pids. */
function world(tracked: Record<number, Partial<Omit<TrackedView, 'group'>> & { group: string }>, ignored: number[] = [], children = true) {
  const views = new Map<number, TrackedView>();
  for (const [pid, v] of Object.entries(tracked)) {
    views.set(Number(pid), { startSeconds: T0, ppid: 1, live: true, seen: zeroDelta(), closed: false, ...v, group: group(v.group), groupKey: v.group });
  }
  const subtracted = new Map<number, number>();
  const w: ExitWorld = {
    tracked: (pid) => views.get(pid),
    liveStart: (pid) => (views.get(pid)?.live || ignored.includes(pid) ? T0 : undefined),
    match: (p) => matcher.match(p),
    groupKey: (g) => g.name,
    userName: (uid) => (uid === 0 ? 'root' : `u${uid}`),
    children,
    subtractChild: (pid, c) => subtracted.set(pid, Math.round(((subtracted.get(pid) ?? 0) + c.cpuUser + c.cpuSystem) * 1000) / 1000),
  };
  return { w, subtracted };
}

/** group -> CPU seconds (rounded to 1 ms) */
function cpuByGroup(r: ExitCycleResult): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of r.credits) {
    const before = out[c.groupKey] ?? 0;
    out[c.groupKey] = Math.round((before + c.delta.cpuUser + c.delta.cpuSystem) * 1000) / 1000;
  }
  return out;
}

function churn(r: ExitCycleResult, key: string): [number, number] {
  const mine = r.credits.filter((c) => c.groupKey === key);
  return [mine.reduce((a, c) => a + c.started, 0), mine.reduce((a, c) => a + c.exited, 0)];
}

test('a process no walk saw is matched on its comm and credited whole, one start and one exit', () => {
  const { w, subtracted } = world({ 10: { group: 'shell' } });
  const r = new ExitAccounting().credit([rec(20, 10, 'svc', 0.05, { counters: counters(0.05, { writeBytes: 1 << 20, voluntaryCtxSwitches: 7 }) })], w);
  assert.deepEqual(cpuByGroup(r), { svc: 0.05 });
  assert.deepEqual(churn(r, 'svc'), [1, 1]);
  assert.equal(r.credits[0]?.delta.writeBytes, 1 << 20);
  assert.equal(r.credits[0]?.delta.voluntaryCtxSwitches, 7);
  assert.equal(r.credits[0]?.threadName, 'svc');
  // its CPU reaches the live parent's cutime: that growth must not be credited again
  assert.equal(subtracted.get(10), 0.05);
  assert.deepEqual([...r.creditedUnseen], [[20, T0]]);
});

test('an unmatched unseen process joins its nearest tracked ancestor, through unseen ancestors', () => {
  const { w, subtracted } = world({ 10: { group: 'app' } });
  // 30 (child of 20) and 20 (child of tracked 10) both lived and died between walks
  const r = new ExitAccounting().credit([rec(30, 20, 'x', 0.02), rec(20, 10, 'y', 0.03)], w);
  assert.deepEqual(cpuByGroup(r), { app: 0.05 });
  assert.equal(subtracted.get(10), 0.05);
  // without `children` they are not counted, and nothing is subtracted
  const off = world({ 10: { group: 'app' } }, [], false);
  assert.deepEqual(cpuByGroup(new ExitAccounting().credit([rec(20, 10, 'y', 0.03)], off.w)), {});
  assert.equal(off.subtracted.size, 0);
});

test('a rule that needs the cmdline does not match a record; uid names the template', () => {
  const { w } = world({ 10: { group: 'parent' } });
  const r = new ExitAccounting().credit([rec(20, 10, 'script', 0.01), rec(21, 10, 'job', 0.01, { uid: 1000 })], w);
  assert.deepEqual(cpuByGroup(r), { parent: 0.01, 'by-uid-u1000': 0.01 });
});

test('a tracked process that vanished is credited its final counters minus what the walks credited', () => {
  const seen = counters(1.0, { writeBytes: 100, nonvoluntaryCtxSwitches: 5 });
  const { w, subtracted } = world({ 10: { group: 'app', ppid: 1 }, 20: { group: 'app', ppid: 10, live: false, seen } });
  const final = counters(1.2, { writeBytes: 4196, nonvoluntaryCtxSwitches: 9 });
  const r = new ExitAccounting().credit([rec(20, 10, 'app', 0, { counters: final })], w);
  assert.deepEqual(cpuByGroup(r), { app: 0.2 });
  assert.equal(r.credits[0]?.delta.writeBytes, 4096);
  assert.equal(r.credits[0]?.delta.nonvoluntaryCtxSwitches, 4);
  assert.deepEqual(churn(r, 'app'), [0, 0], 'a process the walks saw starts and exits in the walks');
  assert.equal(r.closed.length, 1);
  assert.equal(r.closed[0]?.pid, 20);
  for (const [k, v] of Object.entries(final)) assert.ok(Math.abs((r.closed[0]?.final[k as keyof ProcessDelta] ?? NaN) - v) < 1e-9, k);
  // the parent's fallback learns of it through the tracker (closed -> vanished child), not here
  assert.equal(subtracted.size, 0);
});

test('the record of a process that exited after the listing closes it while the walk still lists it', () => {
  const { w } = world({ 20: { group: 'app', live: true, seen: counters(0.5) } });
  const r = new ExitAccounting().credit([rec(20, 1, 'app', 0.56)], w);
  assert.deepEqual(cpuByGroup(r), { app: 0.06 });
  assert.equal(r.closed.length, 1);
  // once closed, nothing more is credited for it
  const again = world({ 20: { group: 'app', live: true, seen: counters(0.56), closed: true } });
  assert.deepEqual(cpuByGroup(new ExitAccounting().credit([rec(20, 1, 'app', 0.56)], again.w)), {});
});

test('thread exits of a live process are left to the walk', () => {
  const { w } = world({ 20: { group: 'app', seen: counters(0.5) } }, [40]);
  const r = new ExitAccounting().credit([rec(21, 1, 'worker', 0.3, { tgid: 20, groupDead: false }), rec(41, 1, 'w', 0.3, { tgid: 40, groupDead: false }), rec(40, 1, 'ign', 0.1)], w);
  assert.deepEqual(cpuByGroup(r), {}, 'tracked and untracked live processes alike');
  assert.equal(r.closed.length, 0);
});

test('a reused pid is a new process: the record does not close the tracked one', () => {
  const { w } = world({ 20: { group: 'app', live: false, startSeconds: T0 - 60, seen: counters(3) } });
  const r = new ExitAccounting().credit([rec(20, 1, 'svc', 0.04)], w);
  assert.deepEqual(cpuByGroup(r), { svc: 0.04 });
  assert.equal(r.closed.length, 0);
});

test('thread records of a process no walk listed wait one cycle: dropped when the next walk finds it alive', () => {
  const acc = new ExitAccounting();
  const thread = rec(51, 1, 'app', 0.2, { tgid: 50, groupDead: false });
  assert.deepEqual(cpuByGroup(acc.credit([thread], world({}).w)), {});
  // next walk: 50 is alive and tracked (credited whole at first sight, its dead thread included)
  assert.deepEqual(cpuByGroup(acc.credit([], world({ 50: { group: 'app' } }).w)), {});
});

test('thread records of a process no walk listed are credited when it is dead by the next walk', () => {
  const acc = new ExitAccounting();
  assert.deepEqual(cpuByGroup(acc.credit([rec(51, 1, 'app', 0.2, { tgid: 50, groupDead: false })], world({}).w)), {});
  const r = acc.credit([rec(50, 1, 'app', 0.1)], world({}).w);
  assert.deepEqual(cpuByGroup(r), { app: 0.3 });
  assert.deepEqual(churn(r, 'app'), [1, 1]);
  // lost group record: held once, then credited, never held forever
  const lost = new ExitAccounting();
  lost.credit([rec(61, 1, 'app', 0.2, { tgid: 60, groupDead: false })], world({}).w);
  assert.deepEqual(cpuByGroup(lost.credit([], world({}).w)), { app: 0.2 });
  assert.deepEqual(cpuByGroup(lost.credit([], world({}).w)), {});
});

test("a multi-threaded process's CPU is its thread group total; the split follows its threads", () => {
  const r = new ExitAccounting().credit(
    [
      rec(71, 1, 'app-worker', 0.4, { tgid: 70, groupDead: false }),
      rec(70, 1, 'app', 0.1, { groupCpuSeconds: 0.52 }),
    ],
    world({}).w,
  );
  assert.deepEqual(cpuByGroup(r), { app: 0.52 });
  const c = r.credits[0];
  assert.ok(c && Math.abs(c.delta.cpuUser / (c.delta.cpuUser + c.delta.cpuSystem) - 0.75) < 1e-9);
  assert.equal(c?.threadName, 'app', "filed under the leader's comm");
});

test('CPU tail is settled as a total even when the split moved', () => {
  const seen = { ...zeroDelta(), cpuUser: 0.9, cpuSystem: 0.1 };
  const { w } = world({ 20: { group: 'app', live: false, seen } });
  const r = new ExitAccounting().credit([rec(20, 1, 'app', 0, { counters: { ...zeroDelta(), cpuUser: 0.85, cpuSystem: 0.25 } })], w);
  const d = r.credits[0]?.delta;
  assert.ok(d);
  assert.equal(Math.round((d.cpuUser + d.cpuSystem) * 1000), 100);
  assert.equal(d.cpuUser, 0);
});

test('delays add up per group', () => {
  const delays = { cpu: 0.001, blkio: 0.02, swapin: 0, reclaim: 0.003 };
  const r = new ExitAccounting().credit([rec(20, 1, 'app', 0.01, { delays }), rec(21, 1, 'app', 0.01, { delays })], world({}).w);
  assert.deepEqual(r.credits[0]?.delays, { cpu: 0.002, blkio: 0.04, swapin: 0, reclaim: 0.006 });
  assert.deepEqual(churn(r, 'app'), [2, 2]);
});

test('a pid reused within one batch is two processes', () => {
  const r = new ExitAccounting().credit([rec(20, 1, 'app', 0.01), rec(20, 1, 'svc', 0.02, { startSeconds: T0 + 30 })], world({}).w);
  assert.deepEqual(cpuByGroup(r), { app: 0.01, svc: 0.02 });
});
