import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { test } from 'node:test';
import { ProcReadError } from '../../../src/errors.js';
import { COUNTERS, emptyTaskCounters } from '../../../src/host/counter-source.js';
import { Host } from '../../../src/host/host.js';
import { emptyPidStat } from '../../../src/procfs/pid-stat.js';
import { copyProc } from '../../helpers/proc-copy.js';
import { namedWorkload, sleep } from '../../helpers/workload.js';

const startTicks = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[19]);

test('ticksSinceBoot is the clock of starttime: a process started between two readings lies between them', async () => {
  const host = new Host({ procfsRoot: '/proc', containerNames: false });
  const stat = host.beginCycle();
  const before = host.ticksSinceBoot(stat);
  await sleep(30);
  const child = spawn('sleep', ['5'], { stdio: 'ignore' });
  try {
    await sleep(30);
    const after = host.ticksSinceBoot(stat);
    const started = startTicks(child.pid as number);
    assert.ok(before <= started && started <= after, `${before} <= ${started} <= ${after}`);
  } finally {
    child.kill('SIGKILL');
  }
});

test('ticksSinceBoot of a copied tree without uptime: wall clock minus its btime', () => {
  const root = copyProc([]);
  try {
    const host = new Host({ procfsRoot: root, containerNames: false });
    const stat = host.beginCycle();
    const expected = (Date.now() / 1000 - stat.bootTime) * 100;
    assert.ok(Math.abs(host.ticksSinceBoot(stat) - expected) < 200, `${host.ticksSinceBoot(stat)} vs ${expected}`);
    assert.equal(host.errors.partial, 0, 'a missing uptime is no error');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('readWchan of a process and of its threads; undefined once gone', async () => {
  const host = new Host({ procfsRoot: '/proc', containerNames: false });
  host.beginCycle();
  const child = spawn(namedWorkload('wchan-threads'), ['threads', '3'], { stdio: 'ignore' });
  const pid = child.pid as number;
  try {
    await sleep(300);
    const p = host.process(pid);
    // all three pause(): each sleeps in the same kernel function, whatever this kernel names it
    const own = host.readWchan(p);
    assert.match(own ?? '', /^[A-Za-z_][\w.]*$/);
    const tids = host.listThreads(p) ?? [];
    assert.equal(tids.length, 3);
    for (const tid of tids) assert.equal(host.readWchan(host.thread(pid, tid)), own, `thread ${tid}`);
  } finally {
    child.kill('SIGKILL');
  }
  await new Promise((resolve) => child.once('exit', resolve));
  assert.equal(host.readWchan(host.process(pid)), undefined);
  assert.equal(host.errors.partial, 0);
});

test('no descriptor left (a real EMFILE) fails the read: never "process gone", never a counted per-process error', () => {
  const host = new Host({ procfsRoot: '/proc', containerNames: false });
  host.beginCycle();
  const self = host.process(process.pid);
  const [, soft, hard] = /^Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'utf8')) ?? [];
  const limit = (v: string | undefined) => (v === 'unlimited' ? 'unlimited' : String(v));
  // our own soft limit a little above what is open, then that table filled
  execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${readdirSync('/proc/self/fd').length + 16}:${limit(hard)}`]);
  const fillers: number[] = [];
  const emfile = (err: unknown) => err instanceof ProcReadError && err.errno === 'EMFILE';
  try {
    for (;;) {
      try {
        fillers.push(openSync('/dev/null', 'r'));
      } catch (err) {
        if ((err as { code?: unknown }).code === 'EMFILE') break;
        throw err;
      }
    }
    assert.throws(() => host.readStat(self.statPath), emfile);
    assert.throws(() => host.readLimits(self), emfile);
    assert.throws(() => host.listThreads(self), emfile);
  } finally {
    for (const fd of fillers) closeSync(fd);
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${limit(soft)}:${limit(hard)}`]);
  }
  assert.ok(fillers.length > 0);
  assert.equal(host.errors.procRead + host.errors.partial, 0);
  assert.ok(host.readStat(self.statPath), 'reads again once descriptors are free');
});

test('held files: a cycle reads a process through held fds, the next releases those of a process that exited; perf sees the limit less the budget', async () => {
  const soft = Number(/^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))?.[1]);
  const plain = new Host({ procfsRoot: '/proc', containerNames: false });
  assert.equal(plain.ownOpenFilesLimit(), soft);
  // more than half the limit is asked: half is granted
  const host = new Host({ procfsRoot: '/proc', containerNames: false, heldFiles: soft });
  assert.equal(host.ownOpenFilesLimit(), soft - Math.floor(soft / 2));

  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  const pid = child.pid as number;
  try {
    host.beginCycle();
    const files = host.process(pid);
    assert.equal(host.readProcessStat(files.statPath, emptyPidStat())?.pid, pid);
    host.readCounters(files, COUNTERS.ctxSwitches | COUNTERS.io, emptyTaskCounters());
    assert.equal(host.heldFiles, 3, 'stat, status, io');
    // a thread's files are opened and closed
    host.readCounters(host.thread(process.pid, process.pid), COUNTERS.io, emptyTaskCounters());
    assert.equal(host.heldFiles, 3);
  } finally {
    child.kill('SIGKILL');
  }
  await new Promise((resolve) => child.once('exit', resolve));
  host.beginCycle();
  assert.equal(host.readProcessStat(host.statPath(pid), emptyPidStat()), undefined);
  host.beginCycle();
  assert.equal(host.heldFiles, 0, 'nothing read the exited process last cycle');
  host.close();
});
