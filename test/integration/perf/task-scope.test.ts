/**
 * Task scope against real processes: the group's perf task-clock must agree with the CPU time the
 * kernel accounts to the same processes in /proc/<pid>/stat (utime+stime, what cpu_seconds_total
 * counts; cutime+cstime for exited children), and nothing may be counted twice.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import {
  Burn, TASK_CLOCK, assertClose, childrenOf, member, metricValue, onCpuSeconds, perfCollector, pidStat, rootMissing, sleep, snapshot, workloadMissing,
} from './workload.js';

const skip = rootMissing() || workloadMissing;
if (skip) console.log(`# skipped: ${skip}`);

const EVENTS = ['TaskClock', 'ContextSwitches'];
const burns: Burn[] = [];
after(async () => {
  for (const b of burns) await b.stop();
});

async function start(threads: number, duty: number): Promise<Burn> {
  const b = await Burn.start(threads, duty);
  burns.push(b);
  return b;
}

async function taskClock(t: { registry: import('prom-client').Registry }, groupname: string): Promise<number> {
  return (await metricValue(t.registry, TASK_CLOCK, { groupname })) ?? 0;
}

test('threads that existed before the collector started are all counted: task-clock matches utime+stime within 5%', { skip }, async () => {
  const burn = await start(3, 60);
  const t = perfCollector({ events: EVENTS, inherit: 'threads' });
  try {
    t.collector.update(snapshot(1, [{ name: 'burn', members: [member(burn.pid)] }]));
    const before = pidStat(burn.pid);
    const perfBefore = await taskClock(t, 'burn');
    // one counter per thread and event: main thread + 3 burners
    assert.equal(before.numThreads, 4);
    assert.equal(t.collector.openFds, 4 * EVENTS.length);
    await sleep(2500);
    t.collector.update(snapshot(2, [{ name: 'burn', members: [member(burn.pid)] }]));
    const cpu = pidStat(burn.pid).cpu - before.cpu;
    const perf = (await taskClock(t, 'burn')) - perfBefore;
    console.log(`# 3 threads: utime+stime +${cpu.toFixed(3)} s, perf task-clock +${perf.toFixed(3)} s`);
    assert.ok(cpu > 0.5, `the workload ran (${cpu} s CPU)`);
    assertClose(perf, cpu, 0.05, 'task-clock vs utime+stime');
  } finally {
    t.collector.close();
  }
});

test('tree: children forked later and gone before any cycle saw them are counted once, like cutime+cstime', { skip }, async () => {
  const burn = await start(0, 100);
  const t = perfCollector({ events: EVENTS, inherit: 'tree' });
  try {
    t.collector.update(snapshot(1, [{ name: 'parent', members: [member(burn.pid)] }]));
    const before = pidStat(burn.pid);
    assert.equal(await burn.command('fork 4 250'), 'done');
    t.collector.update(snapshot(2, [{ name: 'parent', members: [member(burn.pid)] }]));
    const s = pidStat(burn.pid);
    const cpu = s.cpu + s.childrenCpu - before.cpu - before.childrenCpu;
    const perf = await taskClock(t, 'parent');
    console.log(`# 4 short children: parent utime+stime+cutime+cstime +${cpu.toFixed(3)} s, perf task-clock +${perf.toFixed(3)} s`);
    assert.ok(s.childrenCpu - before.childrenCpu >= 0.9, 'the children ran');
    assertClose(perf, cpu, 0.05, 'task-clock vs parent and exited children CPU');
  } finally {
    t.collector.close();
  }
});

test('tree: children forked later and seen as members of the parent\'s group get no counter and are counted once', { skip }, async () => {
  const burn = await start(0, 50);
  const t = perfCollector({ events: EVENTS, inherit: 'tree' });
  try {
    t.collector.update(snapshot(1, [{ name: 'parent', members: [member(burn.pid)] }]));
    const parentFds = t.collector.openFds;
    const before = pidStat(burn.pid);
    const kids = (await burn.command('spawn 2')).split(' ').slice(1).map(Number);
    assert.deepEqual(childrenOf(burn.pid).sort(), [...kids].sort());
    const group = () => [{ name: 'parent', members: [member(burn.pid), ...kids.map((k) => member(k))] }];
    t.collector.update(snapshot(2, group()));
    // covered by inheritance: no fds of their own
    assert.equal(t.collector.openFds, parentFds);
    await sleep(1500);
    t.collector.update(snapshot(3, group()));
    for (const k of kids) process.kill(k, 'SIGKILL');
    assert.equal(await burn.command('reap'), 'reaped');
    t.collector.update(snapshot(4, [{ name: 'parent', members: [member(burn.pid)] }]));
    assert.equal(t.collector.openFds, parentFds);
    const s = pidStat(burn.pid);
    const cpu = s.cpu + s.childrenCpu - before.cpu - before.childrenCpu;
    const perf = await taskClock(t, 'parent');
    console.log(`# 2 children seen as members: utime+stime+cutime+cstime +${cpu.toFixed(3)} s, perf task-clock +${perf.toFixed(3)} s`);
    assert.ok(cpu > 0.5, `the children ran (${cpu} s CPU)`);
    assertClose(perf, cpu, 0.05, 'task-clock vs parent and children CPU');
  } finally {
    t.collector.close();
  }
});

test('tree: a child forked later into another group is counted there, and not in its parent\'s group', { skip }, async () => {
  const burn = await start(0, 50);
  const t = perfCollector({ events: EVENTS, inherit: 'tree' });
  try {
    t.collector.update(snapshot(1, [{ name: 'parent', members: [member(burn.pid)] }, { name: 'kids', members: [] }]));
    const kids = (await burn.command('spawn 2')).split(' ').slice(1).map(Number);
    const groups = () => [{ name: 'parent', members: [member(burn.pid)] }, { name: 'kids', members: kids.map((k) => member(k)) }];
    t.collector.update(snapshot(2, groups()));
    const parent0 = await taskClock(t, 'parent');
    const kids0 = await taskClock(t, 'kids');
    const cpu0 = kids.reduce((sum, k) => sum + onCpuSeconds(k), 0);
    const parentCpu0 = onCpuSeconds(burn.pid);
    await sleep(1500);
    t.collector.update(snapshot(3, groups()));
    const kidsCpu = kids.reduce((sum, k) => sum + onCpuSeconds(k), 0) - cpu0;
    const parentCpu = onCpuSeconds(burn.pid) - parentCpu0;
    const kidsPerf = (await taskClock(t, 'kids')) - kids0;
    const parentPerf = (await taskClock(t, 'parent')) - parent0;
    console.log(`# split (on-CPU from schedstat): kids CPU +${kidsCpu.toFixed(3)} s perf +${kidsPerf.toFixed(3)} s; parent CPU +${parentCpu.toFixed(3)} s perf +${parentPerf.toFixed(3)} s`);
    assert.ok(kidsCpu > 0.5, `the children ran (${kidsCpu} s CPU)`);
    assertClose(kidsPerf, kidsCpu, 0.05, 'kids group vs the children\'s on-CPU time');
    // the parent only waits on its stdin: its group must not hold the children's time
    assert.ok(parentPerf <= parentCpu + 0.05 * kidsCpu, `parent group +${parentPerf} s is its own CPU (+${parentCpu} s), not the children's`);
  } finally {
    t.collector.close();
  }
});

test('threads: children forked later get counters of their own when seen, and are counted once', { skip }, async () => {
  const burn = await start(0, 50);
  const t = perfCollector({ events: EVENTS, inherit: 'threads' });
  try {
    t.collector.update(snapshot(1, [{ name: 'burn', members: [member(burn.pid)] }]));
    const kids = (await burn.command('spawn 2')).split(' ').slice(1).map(Number);
    const group = () => [{ name: 'burn', members: [member(burn.pid), ...kids.map((k) => member(k))] }];
    t.collector.update(snapshot(2, group()));
    assert.equal(t.collector.openFds, 3 * EVENTS.length);
    const perf0 = await taskClock(t, 'burn');
    const cpu0 = [burn.pid, ...kids].reduce((sum, p) => sum + onCpuSeconds(p), 0);
    await sleep(1500);
    t.collector.update(snapshot(3, group()));
    const cpu = [burn.pid, ...kids].reduce((sum, p) => sum + onCpuSeconds(p), 0) - cpu0;
    const perf = (await taskClock(t, 'burn')) - perf0;
    console.log(`# threads mode, 2 children as members: on-CPU +${cpu.toFixed(3)} s, perf task-clock +${perf.toFixed(3)} s`);
    assert.ok(cpu > 0.5, `the children ran (${cpu} s CPU)`);
    assertClose(perf, cpu, 0.05, 'task-clock vs parent and children on-CPU time');
  } finally {
    t.collector.close();
  }
});
