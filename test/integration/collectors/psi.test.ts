/**
 * Acceptance: real cgroup v2 directories, real busy processes, real kernel pressure files.
 * Four busy loops on this 2-core VM are moved into a fresh cgroup after they started (so the
 * cgroup the tracker would have recorded at first sight is stale), and the group's cpu waiting
 * counter must rise and equal the cgroup's own cpu.pressure `some` total, bracketed by reads of
 * the file taken just before and just after the collector's cycle.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { test, type TestContext } from 'node:test';
import { Registry } from 'prom-client';
import { discoverCgroup2Mount } from '../../../src/cgroup/mountinfo.js';
import { parsePressure } from '../../../src/cgroup/pressure.js';
import { Collection } from '../../../src/pipeline/collection.js';
import { GroupCollector } from '../../../src/collectors/group.js';
import { PsiCollector } from '../../../src/collectors/psi.js';
import type { ProcessMatcher } from '../../../src/config/attributes.js';
import { Grouper } from '../../../src/grouper/grouper.js';
import { createLogger } from '../../../src/log.js';
import { ProcReader } from '../../../src/host/proc-reader.js';
import { Tracker } from '../../../src/tracker/tracker.js';
import { psiSnapshot } from '../../helpers/psi-snapshot.js';
import { Host } from '../../../src/host/host.js';

const WAITING = 'namedprocess_namegroup_pressure_waiting_seconds_total';
const STALLED = 'namedprocess_namegroup_pressure_stalled_seconds_total';

/** why this machine cannot run the test, or undefined */
function missing(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to create cgroups and move processes';
  if (!existsSync('/proc/pressure/cpu')) return 'kernel without PSI (/proc/pressure/cpu missing; boot with psi=1)';
  const mount = discoverCgroup2Mount(new ProcReader('/proc'), {});
  if (!mount) return 'no cgroup2 mount in /proc/self/mountinfo (cgroup v1 only)';
  if (!existsSync(path.join(mount.directory, 'cpu.pressure'))) return `no cpu.pressure in ${mount.directory}`;
  return undefined;
}

/** The pids started by a test, killed (and their cgroups removed) afterwards, also on failure. */
class Workload {
  private readonly children: ChildProcess[] = [];
  private readonly cgroups: string[] = [];

  constructor(t: TestContext, readonly mountDir: string) {
    const killAll = (): void => {
      for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    };
    process.once('exit', killAll);
    t.after(async () => {
      killAll();
      await Promise.all(this.children.map((c) => (c.exitCode === null && c.signalCode === null ? new Promise((r) => c.once('exit', r)) : undefined)));
      for (const dir of this.cgroups.reverse()) {
        for (let attempt = 0; existsSync(dir); attempt++) {
          try {
            rmdirSync(dir);
          } catch (err) {
            if (attempt >= 50) throw err;
            await sleep(20); // EBUSY until the killed tasks are fully gone
          }
        }
      }
      process.removeListener('exit', killAll);
    });
  }

  cgroup(name: string): { path: string; dir: string } {
    const dir = path.join(this.mountDir, name);
    mkdirSync(dir);
    this.cgroups.push(dir);
    return { path: `/${name}`, dir };
  }

  busy(n: number): number[] {
    const pids: number[] = [];
    for (let i = 0; i < n; i++) {
      const child = spawn('/bin/sh', ['-c', 'while :; do :; done'], { stdio: 'ignore' });
      this.children.push(child);
      assert.ok(child.pid, 'busy loop started');
      pids.push(child.pid);
    }
    return pids;
  }
}

function move(pid: number, cgroupDir: string): void {
  writeFileSync(path.join(cgroupDir, 'cgroup.procs'), String(pid));
}

function ownCgroup(pid: number): string {
  return /^0::(.*)$/m.exec(readFileSync(`/proc/${pid}/cgroup`, 'utf8'))?.[1] ?? '';
}

/** `some`/`full` totals of a cgroup's cpu.pressure, seconds */
function cpuTotals(cgroupDir: string): { some: number; full: number } {
  const p = parsePressure(readFileSync(path.join(cgroupDir, 'cpu.pressure'), 'utf8'));
  return { some: (p.some?.totalMicroseconds ?? Number.NaN) / 1e6, full: (p.full?.totalMicroseconds ?? Number.NaN) / 1e6 };
}

async function sample(registry: Registry, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const values = (await registry.getSingleMetric(name)?.get())?.values ?? [];
  const found = values.filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want));
  assert.ok(found.length <= 1, `one ${name} series for ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

function assertBracketed(what: string, value: number | undefined, before: number, after: number): void {
  assert.ok(value !== undefined, `${what} is exported`);
  assert.ok(before <= value && value <= after, `${what} = ${value} s lies between the cgroup's own totals read before (${before}) and after (${after}) the cycle`);
}

test('cpu waiting counter of a group follows its cgroup\'s own cpu.pressure, across a move', async (t) => {
  const reason = missing();
  if (reason) {
    t.skip(reason);
    return;
  }
  const mountDir = discoverCgroup2Mount(new ProcReader('/proc'), {})?.directory ?? '';
  const work = new Workload(t, mountDir);
  const a = work.cgroup(`psi-itest-${process.pid}-a`);
  const b = work.cgroup(`psi-itest-${process.pid}-b`);
  const pids = work.busy(4);
  const firstSeen = new Map(pids.map((pid) => [pid, ownCgroup(pid)]));
  for (const pid of pids) move(pid, a.dir);

  const registry = new Registry();
  const psi = new PsiCollector({ enabled: true, averages: true, host: new Host({ procfsRoot: '/proc' }), groupLabelNames: ['class'] });
  psi.register(registry);
  // members as the tracker recorded them when first seen: in the test's cgroup, before the move
  const snapshot = (cycle: number) => psiSnapshot(cycle, [{
    name: 'busy', labels: { class: 'test' }, members: pids.map((pid) => ({ pid, startTime: 1, comm: 'sh', cgroupPath: firstSeen.get(pid) })),
  }]);
  const labelsA = { groupname: 'busy', class: 'test', resource: 'cpu', cgroup: a.path };

  psi.update(snapshot(1));
  const first = await sample(registry, WAITING, labelsA);
  assert.ok(first !== undefined, 'series for the cgroup the processes were moved to');
  const stale = [...new Set(firstSeen.values())].filter((p) => p !== a.path);
  for (const p of stale) assert.equal(await sample(registry, WAITING, { resource: 'cpu', cgroup: p }), undefined, `no series for the stale cgroup ${p}`);

  const t0 = performance.now();
  await sleep(2000);
  const before = cpuTotals(a.dir);
  const hostBefore = parsePressure(readFileSync('/proc/pressure/cpu', 'utf8')).some?.totalMicroseconds ?? 0;
  psi.update(snapshot(2));
  const after = cpuTotals(a.dir);
  const hostAfter = parsePressure(readFileSync('/proc/pressure/cpu', 'utf8')).some?.totalMicroseconds ?? 0;
  const elapsed = (performance.now() - t0) / 1000;

  const second = await sample(registry, WAITING, labelsA);
  assertBracketed('cpu waiting of the group in its cgroup', second, before.some, after.some);
  assert.ok(second !== undefined && second > first, `the counter rose: ${first} -> ${second}`);
  // four runnable loops on two CPUs: some loop is waiting nearly all the time
  const share = ((second ?? 0) - first) / elapsed;
  t.diagnostic(`cpu waiting rose ${((second ?? 0) - first).toFixed(3)} s in ${elapsed.toFixed(3)} s (share ${share.toFixed(2)}); cgroup file before/after: ${before.some}/${after.some}`);
  assert.ok(share > 0.5, `waiting grew by more than half the wall time (got ${share.toFixed(2)})`);
  if (Number.isFinite(before.full)) {
    assertBracketed('cpu stalled (full) of the group in its cgroup', await sample(registry, STALLED, labelsA), before.full, after.full);
  }
  assertBracketed('host cpu waiting', await sample(registry, 'procgroup_exporter_host_pressure_waiting_seconds_total', { resource: 'cpu' }), hostBefore / 1e6, hostAfter / 1e6);
  const ratio = await sample(registry, 'namedprocess_namegroup_pressure_ratio', { ...labelsA, kind: 'some', window: '10s' });
  assert.ok(ratio !== undefined && ratio > 0 && ratio <= 1, `avg10 as a ratio in (0, 1]: ${ratio}`);
  const reported = psi.report().groups?.find((g) => g.groupname === 'busy')?.cgroups[a.path]?.cpu?.some?.total_seconds;
  assertBracketed('/psi total_seconds', reported, before.some, after.some);

  // move one loop on: the group now lives in both cgroups
  const moved = pids[3] ?? 0;
  move(moved, b.dir);
  await sleep(500);
  const beforeB = cpuTotals(b.dir);
  psi.update(snapshot(3));
  const afterB = cpuTotals(b.dir);
  assertBracketed('cpu waiting in the cgroup one process moved to', await sample(registry, WAITING, { ...labelsA, cgroup: b.path }), beforeB.some, afterB.some);
  assert.ok(await sample(registry, WAITING, labelsA) !== undefined, 'the first cgroup, still holding three loops, is still reported');
});

test('in the collection loop: PSI unavailable is logged once, success 0, other metrics keep flowing', async (t) => {
  if (!existsSync('/proc/pressure/cpu')) {
    t.skip('kernel without PSI (/proc/pressure/cpu missing)');
    return;
  }
  const lines: string[] = [];
  const log = createLogger({ level: 'info', write: (l) => lines.push(l) });
  const matcher: ProcessMatcher = {
    labelNames: [],
    match: (p) => (p.pid === process.pid ? { name: 'self', labels: {} } : undefined),
  };
  const tracker = new Tracker({
    host: new Host({ procfsRoot: '/proc' }), matcher, children: false, threads: false, threadDetails: false, gatherSmaps: false, recheck: false, pageSize: 4096,
  });
  const grouper = new Grouper({ removeEmptyGroups: false, gatherSmaps: false, threadNameTtlCycles: 40 });
  const registry = new Registry();
  // a rootfs where the host's cgroup2 mount is not: the collector must fail loudly, not report nothing
  const psi = new PsiCollector({ enabled: true, averages: false, host: new Host({ procfsRoot: '/proc', rootfs: '/nonexistent-rootfs' }), log });
  const collection = new Collection({
    tracker, grouper, collectors: [new GroupCollector({ labelNames: [], gatherSmaps: false }), psi], registry, minIntervalMs: 0, log,
  });
  for (let i = 0; i < 3; i++) await collection.collect();

  const failures = lines.filter((l) => l.includes('collector failed'));
  assert.equal(failures.length, 1, `one log line for three failing cycles:\n${lines.join('')}`);
  assert.match(failures[0] ?? '', /collector=psi err=".*\/nonexistent-rootfs\/sys\/fs\/cgroup.* is not a cgroup2 directory/);
  assert.equal(await sample(registry, 'procgroup_exporter_scrape_collector_success', { collector: 'psi' }), 0);
  assert.equal(await sample(registry, 'procgroup_exporter_scrape_collector_success', { collector: 'group' }), 1);
  assert.equal(await sample(registry, 'namedprocess_namegroup_num_procs', { groupname: 'self' }), 1);
  assert.doesNotMatch(await registry.metrics(), /pressure_\w+\{/, 'no PSI series served');
  assert.equal(psi.report().available, false);
});
