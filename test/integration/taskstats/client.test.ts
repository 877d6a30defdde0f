/**
 * The taskstats client against the running kernel: a real busy child, its /proc files read before
 * and after each query (the reply must lie between them), exited tasks, dropped replies, and the
 * errors a process without CAP_NET_ADMIN or in another network namespace gets.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { ExporterError } from '../../../src/errors.js';
import { Target, TaskstatsClient, TaskstatsQueries } from '../../../src/taskstats/client.js';
import { decodeComm, decodeTaskstats, TaskStats } from '../../../src/taskstats/taskstats-struct.js';
import { hasCommand } from '../../helpers/namespace.js';
import { startWorkload, sleep, type Workload } from '../../helpers/workload.js';

function unavailableReason(): string | undefined {
  try {
    TaskstatsClient.open().close();
    return undefined;
  } catch (err) {
    if (err instanceof ExporterError) return `taskstats unusable here: ${err.message}`;
    throw err;
  }
}
const skip = unavailableReason() ?? false;
if (skip) console.log(`# skipped: ${skip}`);

const TICK_US = 1e6 / 100; // USER_HZ

/** utime+stime (us) and minflt of /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat */
function procStat(path: string): { cpuUs: number; minflt: number; ppid: number } {
  const text = readFileSync(path, 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { cpuUs: (Number(f[11]) + Number(f[12])) * TICK_US, minflt: Number(f[7]), ppid: Number(f[1]) };
}

function procCtx(path: string): number {
  const text = readFileSync(path, 'utf8');
  return Number(/voluntary_ctxt_switches:\s+(\d+)/.exec(text)?.[1]) + Number(/nonvoluntary_ctxt_switches:\s+(\d+)/.exec(text)?.[1]);
}

/** Collects copies of what the handler gets, by query index. */
class Collect {
  readonly got = new Map<number, { cpuUs: number; exactNs: number; minflt: number; ctx: number; pid: number; ppid: number; comm: string }>();
  readonly goneList: number[] = [];
  stats(index: number, raw: Buffer, offset: number, size: number): void {
    assert.ok(!this.got.has(index), `query ${index} answered once`);
    const s = decodeTaskstats(raw, offset, size, new TaskStats());
    this.got.set(index, {
      cpuUs: s.utimeUs + s.stimeUs,
      exactNs: s.cpuRunVirtualNs,
      minflt: s.minflt,
      ctx: s.nvcsw + s.nivcsw,
      pid: s.pid,
      ppid: s.ppid,
      comm: decodeComm(raw, offset),
    });
  }
  goneIndex(index: number): void {
    this.goneList.push(index);
  }
}

let busy: Workload;
let client: TaskstatsClient;
before(async () => {
  if (skip) return;
  busy = startWorkload('ts-busy', ['busy']);
  // under load the child may need a while to burn its first ticks
  for (let i = 0; i < 600 && procStat(`/proc/${busy.child.pid}/stat`).cpuUs < 30_000; i++) await sleep(50);
  client = TaskstatsClient.open();
});
after(() => {
  busy?.stop();
  client?.close();
});

test('a process (TGID) and its thread (PID) answer with counters between two /proc reads', { skip }, () => {
  const pid = busy.child.pid as number;
  const before = procStat(`/proc/${pid}/stat`);
  const ctxBefore = procCtx(`/proc/${pid}/status`);
  const q = new TaskstatsQueries();
  q.add(Target.PROCESS, pid);
  q.add(Target.THREAD, pid);
  const c = new Collect();
  const counts = client.query(q, { stats: (i, r, o, n) => c.stats(i, r, o, n), gone: (i) => c.goneIndex(i) });
  const afterStat = procStat(`/proc/${pid}/stat`);
  const ctxAfter = procCtx(`/proc/${pid}/status`);
  assert.deepEqual(counts, { answered: 2, gone: 0, sendCalls: 1, receiveCalls: 1, resent: 0 });
  const proc = c.got.get(0);
  const thread = c.got.get(1);
  assert.ok(proc && thread);
  for (const r of [proc, thread]) {
    // /proc splits the exact runtime by the sampled ratio and truncates each half to a tick
    assert.ok(r.exactNs / 1e3 >= before.cpuUs - TICK_US && r.exactNs / 1e3 <= afterStat.cpuUs + 2 * TICK_US, `exact ${r.exactNs / 1e3} us within /proc ${before.cpuUs}..${afterStat.cpuUs}`);
    assert.ok(r.ctx >= ctxBefore && r.ctx <= ctxAfter, `ctx switches ${r.ctx} within ${ctxBefore}..${ctxAfter}`);
  }
  assert.ok(before.cpuUs >= 30_000, 'the busy child has burnt CPU');
  assert.equal(thread.comm, 'ts-busy');
  assert.equal(thread.pid, pid);
  assert.equal(thread.ppid, process.pid);
  assert.ok(thread.minflt >= before.minflt && thread.minflt <= afterStat.minflt);
  assert.equal(proc.comm, '', 'a TGID reply carries no comm (kernel/taskstats.c fill_stats_for_tgid)');
});

test('every thread of this process answers; an exited task is reported gone, not as an error', { skip }, async () => {
  const child = spawn('true');
  await new Promise((r) => child.once('exit', r));
  const tids = readdirSync('/proc/self/task').map(Number);
  const q = new TaskstatsQueries();
  for (const tid of tids) q.add(Target.THREAD, tid);
  const goneIndex = q.add(Target.THREAD, child.pid as number);
  const c = new Collect();
  const counts = client.query(q, { stats: (i, r, o, n) => c.stats(i, r, o, n), gone: (i) => c.goneIndex(i) });
  assert.deepEqual(c.goneList, [goneIndex]);
  assert.equal(counts.answered, tids.length);
  for (let i = 0; i < tids.length; i++) assert.equal(c.got.get(i)?.pid, tids[i]);
});

test('replies dropped by a tiny receive buffer are asked again until every query is answered once', { skip }, () => {
  const small = TaskstatsClient.open({ receiveBufferBytes: 4096, batchSize: 512 });
  try {
    const q = new TaskstatsQueries();
    for (let i = 0; i < 600; i++) q.add(Target.PROCESS, process.pid);
    const c = new Collect();
    const counts = small.query(q, { stats: (i, r, o, n) => c.stats(i, r, o, n), gone: (i) => c.goneIndex(i) });
    assert.equal(counts.answered, 600);
    assert.equal(c.got.size, 600);
    assert.ok(counts.resent > 0, 'some replies were dropped and asked again');
    assert.ok(small.currentBatchSize < 512, `batch shrank to ${small.currentBatchSize}`);
  } finally {
    small.close();
  }
});

test('batched: 1000 queries take a handful of send() calls and at most one recvmmsg per 64 replies (+1 per batch)', { skip }, () => {
  const q = new TaskstatsQueries();
  for (let i = 0; i < 1000; i++) q.add(Target.THREAD, process.pid);
  const counts = client.query(q, { stats: () => undefined, gone: () => undefined });
  assert.equal(counts.answered, 1000);
  assert.ok(counts.sendCalls <= Math.ceil(1000 / 16), `${counts.sendCalls} sends`);
  assert.ok(counts.receiveCalls <= Math.ceil(1000 / 64) + counts.sendCalls, `${counts.receiveCalls} receives`);
});

const childScript = new URL('./open-child.ts', import.meta.url).pathname;
function openIn(prefix: string[]): { ok: boolean; code?: string; errno?: string } {
  const out = execFileSync(prefix[0] as string, [...prefix.slice(1), process.execPath, '--import', 'tsx', childScript], { encoding: 'utf8' });
  return JSON.parse(out.trim()) as { ok: boolean; code?: string; errno?: string };
}

const setprivSkip = skip || (!hasCommand('setpriv') ? 'setpriv (util-linux) missing' : process.getuid?.() !== 0 ? 'needs root to drop one capability' : false);
test('without CAP_NET_ADMIN the GET command is refused: PERMISSION_DENIED (EPERM)', { skip: setprivSkip }, () => {
  const r = openIn(['setpriv', '--bounding-set', '-net_admin', '--inh-caps', '-net_admin']);
  assert.deepEqual([r.ok, r.code, r.errno], [false, 'PERMISSION_DENIED', 'EPERM']);
  assert.equal(openIn(['setpriv', '--bounding-set', '-sys_admin']).ok, true, 'dropping another capability changes nothing');
});

const netnsSkip = skip || (process.getuid?.() !== 0 ? 'needs root for unshare --net' : false);
test('in a fresh network namespace: the same answers (netns-aware family) or TASKSTATS_UNAVAILABLE (ENOENT)', { skip: netnsSkip }, () => {
  const r = openIn(['unshare', '--net']);
  if (r.ok) {
    console.log('# this kernel serves taskstats in every network namespace (netnsok)');
  } else {
    assert.deepEqual([r.code, r.errno], ['TASKSTATS_UNAVAILABLE', 'ENOENT']);
    console.log('# this kernel serves taskstats only in the initial network namespace');
  }
});
