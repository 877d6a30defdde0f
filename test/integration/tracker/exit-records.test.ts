import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseConfig } from '../../../src/config/load.js';
import { Grouper } from '../../../src/grouper/grouper.js';
import { Host } from '../../../src/host/host.js';
import type { CycleSnapshot, GroupSnapshot } from '../../../src/grouper/snapshot.js';
import { ExitListener, type ExitListenerOptions } from '../../../src/taskstats/exit-listener.js';
import { NetlinkError } from '../../../src/taskstats/netlink-socket.js';
import { Tracker } from '../../../src/tracker/tracker.js';
import { CgroupSandbox, cgroup2MountPoint } from '../../helpers/cgroup-sandbox.js';
import { namedWorkload, sleep, startWorkload } from '../../helpers/workload.js';

/**
 * Exit records on real processes: the tracker walks the host's /proc with the taskstats exit
 * listener, as the exporter does with hostPID. Truth is the workload's own getrusage, or, for
 * children the kernel reaps itself, the cpu.stat of a cgroup the test made for the workload.
 */
let skip: string | false = false;
before(() => {
  if (process.getuid?.() !== 0) {
    skip = 'needs root (CAP_NET_ADMIN) for the taskstats exit listener';
    return;
  }
  try {
    ExitListener.open({ drainIntervalMs: 0 }).close();
  } catch (err) {
    if (!(err instanceof NetlinkError)) throw err;
    skip = `no taskstats exit records here: ${err.message}`;
  }
});

const dir = mkdtempSync(join(tmpdir(), 'exit-records-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function setup(config: string, listener: ExitListenerOptions = {}) {
  const { matcher } = parseConfig(config, 'exit-records.yaml');
  const source = ExitListener.open(listener);
  const tracker = new Tracker({ host: new Host({ procfsRoot: '/proc' }), matcher, children: true, threads: true, threadDetails: false, gatherSmaps: false, recheck: false, pageSize: 4096, exitRecords: source });
  const grouper = new Grouper({ removeEmptyGroups: false, gatherSmaps: false, threadNameTtlCycles: 40 });
  const cycle = async (): Promise<CycleSnapshot> => grouper.apply(await tracker.update(), 0, 0);
  return { cycle, source, close: () => tracker.close() };
}

const rule = (...names: string[]) => `process_names:\n${names.map((n) => `  - name: "{{.Comm}}"\n    comm: [${n}]\n`).join('')}`;

function group(s: CycleSnapshot, name: string): GroupSnapshot {
  const g = s.groups.find((x) => x.name === name);
  assert.ok(g, `group ${name} missing; have ${s.groups.map((x) => x.name).join(',')}`);
  return g;
}
const cpu = (g: GroupSnapshot | undefined) => (g ? g.cpu.user + g.cpu.system : 0);

function within(t: { diagnostic(m: string): void }, what: string, got: number, truth: number, share: number): void {
  const err = Math.abs(got - truth) / truth;
  t.diagnostic(`${what}: group ${got.toFixed(3)} s, truth ${truth.toFixed(3)} s, error ${(err * 100).toFixed(2)}%`);
  assert.ok(err < share, `${what}: ${got.toFixed(3)} s vs ${truth.toFixed(3)} s, off by ${(err * 100).toFixed(2)}% (allowed ${share * 100}%)`);
}

/** Cycles every `ms` until `done` resolves; a last cycle after it. */
async function cycleUntil<T>(cycle: () => Promise<CycleSnapshot>, done: Promise<T>, ms: number): Promise<{ value: T; last: CycleSnapshot }> {
  let finished = false;
  const value = done.then((v) => {
    finished = true;
    return v;
  });
  while (!finished) {
    await cycle();
    await sleep(ms);
  }
  return { value: await value, last: await cycle() };
}

test('a parent ignoring SIGCHLD, 100 children/s x 5 ms for 10 s: group CPU within 1% of getrusage', { timeout: 60_000 }, async (t) => {
  if (skip) return t.skip(skip);
  const mount = cgroup2MountPoint();
  if (typeof mount !== 'string') return t.skip(mount.skip);
  const sandbox = new CgroupSandbox();
  const { cycle, close, source } = setup(rule('er-autoreap'));
  try {
    const cg = sandbox.makeCgroup(mount, `exit-records-${process.pid}`);
    await cycle();
    const out = join(dir, 'autoreap.out');
    // moved into the cgroup during the shell's sleep, before the workload forks anything
    sandbox.startIn(cg, 'sh', ['-c', `sleep 0.3; WL_OUT='${out}' exec '${namedWorkload('er-autoreap')}' autoreap 100 5 10`]);
    await sleep(600); // first seen after the exec: a process first seen as `sh` stays untracked
    const { last } = await cycleUntil(cycle, waitFor(out), 1000);
    // the parent's getrusage plus each child's own, taken just before its _exit
    const truth = Number(readFileSync(out, 'utf8'));
    // 5 s when the machine keeps the pace; a loaded 2-core machine forks fewer
    assert.ok(truth > 1.5, `workload burned ${truth} s`);
    // the cgroup also counts the kernel's teardown of each child after its exit record (exit_mm, ...)
    t.diagnostic(`cgroup cpu.stat ${cpuStatSeconds(cg).toFixed(3)} s; records received ${source.received}, lost ${source.lost}`);
    within(t, 'auto-reaped children', cpu(group(last, 'er-autoreap')), truth, 0.01);
    const exits = group(last, 'er-autoreap').processesExited;
    t.diagnostic(`${exits} exits counted`);
    assert.ok(exits > truth / 0.006, `churn: ${exits} exits for ${truth.toFixed(2)} s of 5 ms children`);
  } finally {
    close();
    await sandbox.cleanup();
  }
});

test("children exec'ing into a name another rule matches, 20 ms each: their CPU in that rule's group within 2%", { timeout: 60_000 }, async (t) => {
  if (skip) return t.skip(skip);
  const { cycle, close } = setup(rule('er-execer', 'er-target'));
  try {
    await cycle();
    const wl = startWorkload('er-execer', ['execer', '20', '5', namedWorkload('er-target')]);
    try {
      const { value: truth, last } = await cycleUntil(cycle, wl.result(), 1000);
      assert.ok(truth > 1.5, `children burned ${truth} s`);
      within(t, 'exec targets', cpu(group(last, 'er-target')), truth, 0.02);
      // the parent's own forks, and through its cutime the kernel's teardown of each child after
      // its record (exit_mm, ...), which no record holds
      assert.ok(cpu(group(last, 'er-execer')) < 0.1 * truth, `the parent's group keeps its own CPU: ${cpu(group(last, 'er-execer'))} s`);
      assert.ok(group(last, 'er-target').processesStarted >= 95, `${group(last, 'er-target').processesStarted} starts`);
    } finally {
      wl.stop();
    }
  } finally {
    close();
  }
});

test("an exited child's I/O and context switches are counted: 1 MiB written", { timeout: 30_000 }, async (t) => {
  if (skip) return t.skip(skip);
  const { cycle, close } = setup(rule('er-writer'));
  try {
    await cycle();
    const wl = startWorkload('er-writer', ['writer', join(dir, 'written')]);
    try {
      // the parent is seen before its child writes (it waits 1 s)
      await sleep(300);
      const before = group(await cycle(), 'er-writer');
      const [w0, v0] = [before.writeBytes, before.voluntaryCtxSwitches + before.nonvoluntaryCtxSwitches];
      const { value: ok, last } = await cycleUntil(cycle, wl.result(), 200);
      assert.equal(ok, 1, 'the child wrote and synced 1 MiB');
      const g = group(last, 'er-writer');
      t.diagnostic(`write_bytes ${w0} -> ${g.writeBytes}, context switches ${v0} -> ${g.voluntaryCtxSwitches + g.nonvoluntaryCtxSwitches}`);
      assert.ok(g.writeBytes - w0 >= 1 << 20 && g.writeBytes - w0 < (1 << 20) + 64 * 1024, `write_bytes grew by ${g.writeBytes - w0}`);
      assert.ok(g.voluntaryCtxSwitches + g.nonvoluntaryCtxSwitches > v0, 'the child\'s context switches');
    } finally {
      wl.stop();
    }
  } finally {
    close();
  }
});

test('a double-forking daemon is credited to its first tracked ancestor, not to the subreaper that reaps it', { timeout: 30_000 }, async (t) => {
  if (skip) return t.skip(skip);
  const { cycle, close } = setup(rule('dm-reaper', 'dm-parent'));
  try {
    await cycle();
    const wl = startWorkload('dm-reaper', ['daemon', '600', '700']);
    try {
      const { value: daemonCpu, last } = await cycleUntil(cycle, wl.result(), 200);
      await sleep(300); // the subreaper reaps it
      const s = await cycle();
      t.diagnostic(`daemon ${daemonCpu.toFixed(3)} s; dm-parent ${cpu(group(s, 'dm-parent')).toFixed(3)} s, dm-reaper ${cpu(group(s, 'dm-reaper')).toFixed(3)} s (${last.cycle} cycles)`);
      within(t, 'daemon in dm-parent', cpu(group(s, 'dm-parent')), daemonCpu, 0.03);
      assert.ok(cpu(group(s, 'dm-reaper')) < 0.02, `the subreaper's cutime growth is not credited again: ${cpu(group(s, 'dm-reaper'))} s`);
    } finally {
      wl.stop();
    }
  } finally {
    close();
  }
});

test('an exit storm larger than the receive buffer: records counted as lost, group CPU within 3% through cutime', { timeout: 60_000 }, async (t) => {
  if (skip) return t.skip(skip);
  // 32 KiB (64 KiB granted) holds ~50 records, drained only once a second: hundreds of exits a second overflow it
  const { cycle, close, source } = setup(rule('er-storm'), { receiveBufferBytes: 32 << 10, drainIntervalMs: 0 });
  try {
    await cycle();
    const wl = startWorkload('er-storm', ['forker', '400', '2', '4']);
    try {
      const { value: truth, last } = await cycleUntil(cycle, wl.result(), 1000);
      t.diagnostic(`records received ${source.received}, lost ${source.lost}`);
      assert.ok(source.lost >= 100, `lost records counted: ${source.lost}`);
      assert.equal(last.exitRecords?.lost, source.lost);
      within(t, 'storm through the fallback', cpu(group(last, 'er-storm')), truth, 0.03);
    } finally {
      wl.stop();
    }
  } finally {
    close();
  }
});

async function waitFor(file: string): Promise<void> {
  while (!existsSync(file)) await sleep(50);
}

function cpuStatSeconds(cg: string): number {
  const m = /^usage_usec (\d+)$/m.exec(readFileSync(join(cg, 'cpu.stat'), 'utf8'));
  assert.ok(m, 'cpu.stat has usage_usec');
  return Number(m[1]) / 1e6;
}
