/**
 * The taskstats counter source against the procfs text source on the same live processes: a
 * workload with busy threads, storage I/O, ~10k context switches a second and threads that keep
 * exiting. Each taskstats read sits between two procfs reads, so every counter must lie within
 * them (1 % or one tick of slack), and both sources must never go down across rounds.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { ExporterError } from '../../../src/errors.js';
import { ALL_COUNTERS, COUNTERS, emptyTaskCounters, type TaskCounters, type TaskRef } from '../../../src/host/counter-source.js';
import { Host, type ThreadFiles } from '../../../src/host/host.js';
import { emptyPidStat } from '../../../src/procfs/pid-stat.js';
import { TaskstatsCounterSource, splitRuntime } from '../../../src/host/taskstats-counters.js';
import { fixtureDir } from '../../helpers/fixtures.js';
import { sleep } from '../../helpers/workload.js';

function openSource(): TaskstatsCounterSource | string {
  try {
    return TaskstatsCounterSource.open();
  } catch (err) {
    if (err instanceof ExporterError) return `taskstats unusable here: ${err.message}`;
    throw err;
  }
}
const opened = openSource();
const skip = typeof opened === 'string' ? opened : false;
if (skip) console.log(`# skipped: ${skip}`);

const TICK_US = 10_000;
const WANT = ALL_COUNTERS | COUNTERS.cpu;

let dir: string;
let child: ChildProcess;
before(async () => {
  if (skip) return;
  dir = mkdtempSync(path.join(tmpdir(), 'ts-mixed-'));
  const bin = path.join(dir, 'mixed');
  execFileSync('cc', ['-O1', '-pthread', '-o', bin, path.join(fixtureDir, 'workloads', 'mixed.c')]);
  child = spawn(bin, [dir], { stdio: ['ignore', 'pipe', 'ignore'] });
  await new Promise<void>((resolve) => child.stdout?.once('data', () => resolve()));
  // under load the workload may need a while: wait (up to 60 s) until it has burnt 0.5 s of CPU
  // and its switcher has switched context 1000 times, so the comparisons cover real activity
  const pid = child.pid as number;
  for (let i = 0; i < 600; i++) {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(f[11]) + Number(f[12]);
    const switches = readdirSync(`/proc/${pid}/task`).map((tid) => {
      try {
        const status = readFileSync(`/proc/${pid}/task/${tid}/status`, 'utf8');
        return Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(status)?.[1] ?? 0);
      } catch {
        return 0;
      }
    });
    if (ticks >= 50 && Math.max(...switches) >= 1000) break;
    await sleep(100);
  }
});
after(() => {
  child?.kill('SIGKILL');
  if (typeof opened !== 'string') opened.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Reading {
  c: TaskCounters;
  filled: number;
  /** stat utime, stime in us (ticks * 10 ms) */
  statUserUs: number;
  statSystemUs: number;
}

function readProcfs(host: Host, task: TaskRef, statPath: string): Reading | undefined {
  const c = emptyTaskCounters();
  const filled = host.readCounters(task, ALL_COUNTERS, c);
  const stat = host.readStat(statPath);
  if (!stat || filled === 0) return undefined;
  return { c, filled, statUserUs: stat.utime * TICK_US, statSystemUs: stat.stime * TICK_US };
}

/** lo - slack <= value <= hi + slack, slack = max(1 % of hi, `tick`) */
function within(what: string, value: number, lo: number, hi: number, tick = 0): void {
  const slack = Math.max(hi * 0.01, tick);
  assert.ok(value >= lo - slack && value <= hi + slack, `${what}: ${value} not within ${lo}..${hi} (slack ${slack})`);
}

test('every counter of taskstats lies between two procfs reads; both sources monotonic', { skip }, async () => {
  const source = opened as TaskstatsCounterSource;
  const procfs = new Host({ procfsRoot: '/proc', containerNames: false });
  const binary = new Host({ procfsRoot: '/proc', containerNames: false, counterSource: source });
  const pid = child.pid as number;
  const proc = procfs.process(pid);
  const last = new Map<string, number>();
  const monotonic = (key: string, value: number) => {
    const prev = last.get(key);
    assert.ok(prev === undefined || value >= prev, `${key} went down: ${prev} -> ${value}`);
    last.set(key, value);
  };
  const seenTids = new Set<number>();
  const startTimes = new Map<string, number>();
  let compared = 0;
  let threadStatsCompared = 0;
  // at least 6 rounds, and until short-lived threads have come and gone
  for (let round = 0; round < 6 || (seenTids.size <= 7 && round < 40); round++) {
    const tids = procfs.listThreads(proc) ?? [];
    const tasks: Array<{ ref: TaskRef; statPath: string; name: string }> = [{ ref: proc, statPath: proc.statPath, name: 'process' }];
    for (const tid of tids) {
      seenTids.add(tid);
      const t = procfs.thread(pid, tid);
      tasks.push({ ref: t, statPath: t.statPath, name: `thread ${tid}` });
    }
    const beforeR = tasks.map((t) => readProcfs(procfs, t.ref, t.statPath));
    const beforeStats = tasks.map((t) => procfs.readStat(t.statPath));
    binary.prefetchCounters(
      tasks.map((t) => t.ref),
      WANT,
    );
    const ts = tasks.map((t) => {
      const c = emptyTaskCounters();
      return { c, filled: binary.readCounters(t.ref, WANT, c) };
    });
    // a thread's stat fields from the same replies (no file read)
    const threadStats = tasks.map((t) => (t.ref.isThread ? binary.readThreadStat(t.ref as ThreadFiles, emptyPidStat()) : undefined));
    const afterR = tasks.map((t) => readProcfs(procfs, t.ref, t.statPath));
    const afterStats = tasks.map((t) => procfs.readStat(t.statPath));
    assert.equal(source.lastCounts?.sendCalls, 1, 'one send for the whole cycle');
    for (let i = 0; i < tasks.length; i++) {
      const b = beforeR[i];
      const a = afterR[i];
      const t = ts[i];
      const name = (tasks[i] as { name: string }).name;
      if (!b || !a || !t || t.filled === 0) continue; // a short-lived thread exited meanwhile
      compared++;
      const isProcess = i === 0;
      assert.equal(t.filled, WANT, `${name}: every kind filled (a process's io from its io file)`);
      within(`${name} voluntary`, t.c.voluntaryCtxSwitches, b.c.voluntaryCtxSwitches, a.c.voluntaryCtxSwitches);
      within(`${name} nonvoluntary`, t.c.nonvoluntaryCtxSwitches, b.c.nonvoluntaryCtxSwitches, a.c.nonvoluntaryCtxSwitches);
      within(`${name} read_bytes`, t.c.readBytes, b.c.readBytes, a.c.readBytes);
      within(`${name} write_bytes`, t.c.writeBytes, b.c.writeBytes, a.c.writeBytes);
      // stat truncates the kernel's value to whole ticks: that value lies in [ticks, ticks + 1 tick)
      within(`${name} user`, t.c.cpuUserUs, b.statUserUs, a.statUserUs + TICK_US, TICK_US);
      within(`${name} system`, t.c.cpuSystemUs, b.statSystemUs, a.statSystemUs + TICK_US, TICK_US);
      const key = isProcess ? 'p' : `t${tasks[i]?.ref.tid}`;
      const fromReply = threadStats[i];
      const fromFile = afterStats[i];
      if (!isProcess && fromReply && fromFile) {
        threadStatsCompared++;
        assert.equal(fromReply.comm, fromFile.comm, `${name} comm`);
        assert.equal(fromReply.pid, fromFile.pid, `${name} pid`);
        assert.equal(fromReply.ppid, fromFile.ppid, `${name} ppid`);
        // starttime from reply time - ac_etime: the tick stat shows, or a neighbour (the reply time is known to within its send())
        assert.ok(Math.abs(fromReply.startTime - fromFile.startTime) <= 1, `${name} starttime ${fromReply.startTime}, stat says ${fromFile.startTime}`);
        const first = startTimes.get(key) ?? fromReply.startTime;
        assert.equal(fromReply.startTime, first, `${name}: the same thread keeps its start`);
        startTimes.set(key, first);
        within(`${name} minflt`, fromReply.minflt, beforeStats[i]?.minflt ?? 0, fromFile.minflt);
        within(`${name} majflt`, fromReply.majflt, beforeStats[i]?.majflt ?? 0, fromFile.majflt);
        within(`${name} stat user`, fromReply.utime * TICK_US, b.statUserUs, a.statUserUs + TICK_US, TICK_US);
        within(`${name} stat system`, fromReply.stime * TICK_US, b.statSystemUs, a.statSystemUs + TICK_US, TICK_US);
      }
      for (const [field, v] of Object.entries({ ...t.c, statUser: b.statUserUs, statSystem: b.statSystemUs, pvol: b.c.voluntaryCtxSwitches, pread: b.c.readBytes })) {
        monotonic(`${key}.${field}`, v);
      }
    }
    await sleep(300);
  }
  const p = last;
  assert.ok((p.get('p.cpuUserUs') ?? 0) + (p.get('p.cpuSystemUs') ?? 0) > 500_000, 'the busy threads burnt CPU');
  assert.ok((p.get(`p.writeBytes`) ?? 0) > 0, 'the process wrote to storage (its io file)');
  assert.ok([...p.keys()].some((k) => /^t\d+\.readBytes$/.test(k) && (p.get(k) ?? 0) > 0), 'a thread read from storage');
  assert.ok([...p.keys()].some((k) => /^t\d+\.voluntaryCtxSwitches$/.test(k) && (p.get(k) ?? 0) > 1000), 'a thread switched context often');
  assert.ok(seenTids.size > 7, `short-lived threads came and went (${seenTids.size} thread ids seen)`);
  assert.ok(compared > 30, `${compared} task readings compared`);
  assert.ok(threadStatsCompared > 20, `${threadStatsCompared} thread stats from taskstats compared with the files`);
});

test('the CPU split never lets either half go down, and restarts for a reused id', () => {
  const prev = { userUs: 0, systemUs: 0, seen: 0 };
  assert.deepEqual(splitRuntime(1000, 3, 1, prev), { userUs: 750, systemUs: 250, seen: 0 });
  // the sampled ratio swings to all-system: user keeps 750, system takes the growth
  assert.deepEqual(splitRuntime(1100, 0, 5, prev), { userUs: 750, systemUs: 350, seen: 0 });
  // swings back to all-user: system keeps 350
  assert.deepEqual(splitRuntime(1200, 9, 0, prev), { userUs: 850, systemUs: 350, seen: 0 });
  assert.deepEqual(splitRuntime(1200, 1, 1, prev), { userUs: 850, systemUs: 350, seen: 0 }, 'no growth, no change');
  assert.deepEqual(splitRuntime(40, 1, 1, prev), { userUs: 20, systemUs: 20, seen: 0 }, 'a runtime below what was handed out is another task');
});
