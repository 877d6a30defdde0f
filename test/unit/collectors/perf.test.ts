/**
 * PerfCollector on snapshots and fake counter readings: the syscalls are a fake kernel (PerfSyscalls)
 * that hands out fds and returns the readings the test sets, the processes live in a procfs and a
 * cgroup2 tree laid out in a temp directory. No root and no perf_event_open; what the real kernel
 * counts is checked by test/integration/perf/*.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readlinkSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { Registry } from 'prom-client';
import { PerfCollector, type PerfCollectorOptions } from '../../../src/collectors/perf.js';
import { ExporterError } from '../../../src/errors.js';
import { Host } from '../../../src/host/host.js';
import { createLogger } from '../../../src/log.js';
import type { CounterReading } from '../../../src/perf/attr.js';
import { readOnlineCpus } from '../../../src/perf/cgroup-scope.js';
import { findEvent } from '../../../src/perf/events.js';
import { PerfFlag, perfOpenError, type PerfSyscalls } from '../../../src/perf/syscall.js';
import { psiSnapshot, type GroupSpec } from '../../helpers/psi-snapshot.js';

const HARDWARE = 0;

interface FakeCounter {
  /** a thread id, or the directory of a cgroup */
  target: number | string;
  type: number;
  config: bigint;
  reading: CounterReading;
}

/** A kernel without a hardware PMU (like most VMs): perf_event_open answers ENOENT for hardware events. */
class FakeKernel implements PerfSyscalls {
  readonly counters = new Map<number, FakeCounter>();
  /** targets perf_event_open refuses, with the errno */
  readonly refuse = new Map<number | string, string>();
  private nextFd = 1000;

  open(attr: Buffer, pid: number, cpu: number, _groupFd: number, flags: number): number {
    const type = attr.readUInt32LE(0);
    const config = attr.readBigUInt64LE(8);
    const target = flags & PerfFlag.PID_CGROUP ? readlinkSync(`/proc/self/fd/${pid}`) : pid;
    const errno = type === HARDWARE ? 'ENOENT' : this.refuse.get(target);
    if (errno) throw perfOpenError(errno, `pid ${pid}, cpu ${cpu}`);
    const fd = this.nextFd++;
    this.counters.set(fd, { target, type, config, reading: { value: 0n, enabled: 0n, running: 0n } });
    return fd;
  }

  read(fd: number): CounterReading {
    const c = this.counters.get(fd);
    if (!c) throw new Error(`read of fd ${fd}, which is not open`);
    return c.reading;
  }

  close(fd: number): void {
    if (!this.counters.delete(fd)) throw new Error(`close of fd ${fd}, which is not open`);
  }

  /** Adds to the one open counter of the target and event (for a cgroup: to the first CPU's). */
  count(target: number | string, event: string, value: number, enabledNs = 1e9, runningNs = enabledNs): void {
    const spec = findEvent(event);
    const c = [...this.counters.values()].find((x) => x.target === target && x.type === spec?.type && x.config === spec.config);
    assert.ok(c, `an open ${event} counter on ${target}`);
    c.reading = { value: c.reading.value + BigInt(value), enabled: c.reading.enabled + BigInt(enabledNs), running: c.reading.running + BigInt(runningNs) };
  }

  openOn(target: number | string): number {
    return [...this.counters.values()].filter((c) => c.target === target).length;
  }
}

/** /proc/<pid>/stat with the fields the host reads: ppid (4), num_threads (20), starttime (22) */
function statLine(pid: number, threads: number, startTime: number): string {
  const f = [String(pid), '(burn)', 'S', '1', ...Array<string>(15).fill('0'), String(threads), '0', String(startTime), ...Array<string>(30).fill('0')];
  return `${f.join(' ')}\n`;
}

class Machine {
  readonly procfs: string;
  readonly cgroup2: string;
  readonly kernel = new FakeKernel();
  constructor(dir: string) {
    this.procfs = path.join(dir, 'proc');
    this.cgroup2 = path.join(dir, 'cgroup2');
    mkdirSync(this.procfs, { recursive: true });
    mkdirSync(this.cgroup2, { recursive: true });
    writeFileSync(path.join(this.cgroup2, 'cgroup.controllers'), 'cpu io memory pids\n');
    // the same PID namespace as the exporter: task scope is on
    symlinkSync(String(process.pid), path.join(this.procfs, 'self'));
  }
  process(pid: number, tids: number[], startTime = 500): void {
    const dir = path.join(this.procfs, String(pid));
    rmSync(dir, { recursive: true, force: true });
    for (const tid of tids) mkdirSync(path.join(dir, 'task', String(tid)), { recursive: true });
    writeFileSync(path.join(dir, 'stat'), statLine(pid, tids.length, startTime));
  }
  cgroup(cgroupPath: string): string {
    const dir = path.join(this.cgroup2, cgroupPath);
    mkdirSync(dir, { recursive: true });
    return dir;
  }
}

function setup(t: TestContext, options: Partial<PerfCollectorOptions> = {}): { machine: Machine; perf: PerfCollector; registry: Registry; logs: string[] } {
  const dir = mkdtempSync(path.join(tmpdir(), 'perf-collector-'));
  const machine = new Machine(dir);
  const logs: string[] = [];
  const perf = new PerfCollector({
    enabled: true,
    events: ['TaskClock', 'ContextSwitches', 'CPUCycles'],
    scope: 'task',
    inherit: 'threads',
    maxFds: 4096,
    host: new Host({ procfsRoot: machine.procfs, cgroup2Root: machine.cgroup2, containerNames: false }),
    log: createLogger({ level: 'debug', write: (l) => logs.push(l) }),
    syscalls: machine.kernel,
    ...options,
  });
  t.after(() => {
    perf.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const registry = new Registry();
  perf.register(registry);
  return { machine, perf, registry, logs };
}

async function value(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return undefined;
  const found = (await metric.get()).values.filter((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l));
  assert.ok(found.length <= 1, `at most one ${name} series matches ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

const TASK_CLOCK = 'namedprocess_namegroup_perf_task_clock_seconds_total';
const CTX = 'namedprocess_namegroup_perf_context_switches_total';
const RATIO = 'namedprocess_namegroup_perf_scaling_ratio';
const SKIPPED = 'procgroup_exporter_perf_groups_skipped_total';
const OPEN_FDS = 'procgroup_exporter_perf_open_fds';

const member = (pid: number, numThreads: number, startTime = 500): GroupSpec['members'][number] => ({ pid, startTime, numThreads, comm: 'burn' });

test('counts per group in the kernel\'s units (time in seconds), scaled when multiplexed; unsupported events reported and skipped', async (t) => {
  const { machine, perf, registry, logs } = setup(t);
  machine.process(4001, [4001, 4011]);
  machine.process(4002, [4002]);
  const groups = [{ name: 'web', members: [member(4001, 2)] }, { name: 'db', members: [member(4002, 1)] }];
  perf.update(psiSnapshot(1, groups));
  assert.equal(perf.openFds, 6, 'one fd per thread and supported event');
  assert.equal(await value(registry, OPEN_FDS), 6);
  assert.equal(await value(registry, 'procgroup_exporter_perf_event_supported', { event: 'CPUCycles' }), 0);
  assert.equal(await value(registry, 'procgroup_exporter_perf_event_supported', { event: 'TaskClock' }), 1);
  assert.equal(registry.getSingleMetric('namedprocess_namegroup_perf_cpu_cycles_total'), undefined);
  assert.equal(logs.filter((l) => l.includes('event not supported') && l.includes('CPUCycles')).length, 1);
  assert.equal(await value(registry, TASK_CLOCK, { groupname: 'web' }), 0, 'nothing counted before the first read');

  machine.kernel.count(4001, 'TaskClock', 1.5e9);
  machine.kernel.count(4011, 'TaskClock', 0.5e9);
  machine.kernel.count(4001, 'ContextSwitches', 7);
  // on the PMU half the time it was enabled: counted 1 s of 2
  machine.kernel.count(4002, 'TaskClock', 1e9, 2e9, 1e9);
  perf.update(psiSnapshot(2, groups));
  assert.equal(await value(registry, TASK_CLOCK, { groupname: 'web' }), 2);
  assert.equal(await value(registry, CTX, { groupname: 'web' }), 7);
  assert.equal(await value(registry, TASK_CLOCK, { groupname: 'db' }), 2, 'scaled by enabled / running');
  assert.equal(await value(registry, RATIO, { groupname: 'db' }), 0.5);
  assert.equal(await value(registry, RATIO, { groupname: 'web' }), 1);

  machine.kernel.count(4002, 'TaskClock', 1e9);
  perf.update(psiSnapshot(3, groups));
  assert.equal(await value(registry, TASK_CLOCK, { groupname: 'db' }), 3, 'each interval scaled by its own ratio');
  assert.equal(await value(registry, RATIO, { groupname: 'db' }), 1);
});

test('a member that leaves is read a last time and closed; its counts stay; a reused pid gets new counters', async (t) => {
  const { machine, perf, registry } = setup(t, { events: ['TaskClock'] });
  machine.process(4001, [4001, 4011]);
  machine.process(4002, [4002]);
  perf.update(psiSnapshot(1, [{ name: 'web', members: [member(4001, 2), member(4002, 1)] }]));
  assert.equal(perf.openFds, 3);

  machine.kernel.count(4011, 'TaskClock', 1e9);
  machine.kernel.count(4002, 'TaskClock', 3e9);
  perf.update(psiSnapshot(2, [{ name: 'web', members: [member(4001, 2)] }]));
  assert.equal(await value(registry, TASK_CLOCK, { groupname: 'web' }), 4, 'the leaving member\'s last interval is counted');
  assert.equal(machine.kernel.openOn(4002), 0, 'and its counter closed');
  assert.equal(perf.openFds, 2);

  // pid 4001 exits and the pid is reused by a one-thread process
  machine.kernel.count(4001, 'TaskClock', 1e9);
  machine.process(4001, [4001], 900);
  perf.update(psiSnapshot(3, [{ name: 'web', members: [member(4001, 1, 900)] }]));
  assert.equal(await value(registry, TASK_CLOCK, { groupname: 'web' }), 5);
  assert.equal(machine.kernel.openOn(4011), 0, 'the old process\'s counters are closed');
  assert.equal(perf.openFds, 1, 'the new process has counters of its own');

  perf.update(psiSnapshot(4, [{ name: 'web', members: [] }]));
  assert.equal(perf.openFds, 0);
  assert.equal(await value(registry, TASK_CLOCK, { groupname: 'web' }), 5, 'never decreases');
});

test('fd budget: a group that does not fit gets no series and a skip count; it is counted once room is made', async (t) => {
  const { machine, perf, registry, logs } = setup(t, { events: ['TaskClock', 'ContextSwitches'], maxFds: 4 });
  machine.process(4001, [4001, 4011]);
  machine.process(4002, [4002]);
  const both = [{ name: 'web', members: [member(4001, 2)] }, { name: 'db', members: [member(4002, 1)] }];
  perf.update(psiSnapshot(1, both));
  perf.update(psiSnapshot(2, both));
  assert.equal(perf.openFds, 4);
  assert.equal(await value(registry, SKIPPED, { groupname: 'db' }), 2);
  assert.equal(await value(registry, SKIPPED, { groupname: 'web' }), undefined);
  assert.equal(await value(registry, TASK_CLOCK, { groupname: 'db' }), undefined, 'no partial counts');
  assert.equal(await value(registry, 'procgroup_exporter_perf_max_fds'), 4);
  const warned = logs.filter((l) => l.includes('skipped until its counters fit'));
  assert.equal(warned.length, 1, 'logged once');
  assert.match(warned[0] ?? '', /group db .*needs 2 more fds, 0 of 4 free/);

  perf.update(psiSnapshot(3, [{ name: 'web', members: [] }, { name: 'db', members: [member(4002, 1)] }]));
  assert.equal(perf.openFds, 2);
  assert.equal(machine.kernel.openOn(4002), 2);
  assert.equal(await value(registry, SKIPPED, { groupname: 'db' }), 2, 'not skipped any more');
  assert.ok(logs.some((l) => l.includes('fits in the fd budget again')));
  machine.kernel.count(4002, 'TaskClock', 1e9);
  perf.update(psiSnapshot(4, [{ name: 'web', members: [] }, { name: 'db', members: [member(4002, 1)] }]));
  assert.equal(await value(registry, TASK_CLOCK, { groupname: 'db' }), 1);

  // a counted group that outgrows the budget is closed and its series go until it fits again
  machine.process(4003, [4003, 4013, 4023]);
  perf.update(psiSnapshot(5, [{ name: 'web', members: [] }, { name: 'db', members: [member(4002, 1), member(4003, 3)] }]));
  assert.equal(perf.openFds, 0);
  assert.equal(await value(registry, TASK_CLOCK, { groupname: 'db' }), undefined);
  assert.equal(await value(registry, SKIPPED, { groupname: 'db' }), 3);
});

test('a process whose counters are refused is counted in open errors, not retried, and the others are counted', async (t) => {
  const { machine, perf, registry } = setup(t, { events: ['TaskClock'] });
  machine.process(4001, [4001]);
  machine.process(4002, [4002]);
  machine.kernel.refuse.set(4002, 'EACCES');
  const groups = [{ name: 'web', members: [member(4001, 1), member(4002, 1)] }];
  perf.update(psiSnapshot(1, groups));
  perf.update(psiSnapshot(2, groups));
  assert.equal(await value(registry, 'procgroup_exporter_perf_open_errors_total', { code: 'PERMISSION_DENIED' }), 1, 'tried once');
  assert.equal(perf.openFds, 1);
  machine.kernel.count(4001, 'TaskClock', 1e9);
  perf.update(psiSnapshot(3, groups));
  assert.equal(await value(registry, TASK_CLOCK, { groupname: 'web' }), 1);
});

test('auto scope: a container group is counted on its cgroup, one counter per CPU and event; a host group per process', async (t) => {
  const { machine, perf, registry } = setup(t, { events: ['TaskClock'], scope: 'auto' });
  const pod = '/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0a1b2c3d_0000_4000_8000_000000000001.slice';
  const container = `${pod}/crio-${'1'.repeat(64)}.scope`;
  machine.cgroup(container);
  const top = machine.cgroup('/kubepods.slice');
  machine.process(4001, [4001]);
  const groups = [
    { name: 'app', members: [{ ...member(5001, 3), cgroupPath: container }, { ...member(5002, 1), cgroupPath: container }] },
    { name: 'host', members: [{ ...member(4001, 1), cgroupPath: '/system.slice/crio.service' }] },
  ];
  perf.update(psiSnapshot(1, groups));
  const cpus = readOnlineCpus().length;
  assert.equal(machine.kernel.openOn(top), cpus, 'the group holds every pod: counted on kubepods.slice itself');
  assert.equal(machine.kernel.openOn(5001), 0, 'no task counters for a cgroup-scoped group');
  assert.equal(perf.openFds, cpus + 1);

  machine.kernel.count(top, 'TaskClock', 4e9);
  machine.kernel.count(4001, 'TaskClock', 1e9);
  perf.update(psiSnapshot(2, groups));
  assert.equal(await value(registry, TASK_CLOCK, { groupname: 'app' }), 4);
  assert.equal(await value(registry, TASK_CLOCK, { groupname: 'host' }), 1);
});

test('nothing the machine can count: update fails with PERF_UNAVAILABLE and every event is reported unsupported', async (t) => {
  const { perf, registry } = setup(t, { events: ['CPUCycles', 'Instructions'] });
  const cycle = psiSnapshot(1, [{ name: 'web', members: [] }]);
  assert.throws(() => perf.update(cycle), (err: unknown) => err instanceof ExporterError && err.code === 'PERF_UNAVAILABLE' && /none of the configured perf events/.test(err.message));
  assert.throws(() => perf.update(cycle), (err: unknown) => err instanceof ExporterError && err.code === 'PERF_UNAVAILABLE', 'the probe is not repeated, its answer is');
  assert.equal(await value(registry, 'procgroup_exporter_perf_event_supported', { event: 'CPUCycles' }), 0);
  assert.equal(await value(registry, 'procgroup_exporter_perf_event_supported', { event: 'Instructions' }), 0);
});
