/**
 * PsiCollector against a procfs and a cgroup2 tree laid out in a temp directory with files in the
 * kernel's formats (real-kernel behaviour is covered by test/integration/collectors/psi.test.ts).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { Registry } from 'prom-client';
import type { ContainerIdentity } from '../../../src/cgroup/types.js';
import { PsiCollector, type PsiCollectorOptions } from '../../../src/collectors/psi.js';
import { ExporterError } from '../../../src/errors.js';
import { Host as ExporterHost } from '../../../src/host/host.js';
import { createLogger } from '../../../src/log.js';
import { psiSnapshot } from '../../helpers/psi-snapshot.js';

const MOUNTINFO = path.join(import.meta.dirname, '../../fixtures/cgroup/mountinfo');

const line = (kind: string, avg10: string, total: number): string => `${kind} avg10=${avg10} avg60=1.00 avg300=0.50 total=${total}\n`;

class Host {
  readonly procfs: string;
  readonly cgroup2: string;
  constructor(readonly dir: string) {
    this.procfs = path.join(dir, 'proc');
    this.cgroup2 = path.join(dir, 'cgroup2');
    mkdirSync(path.join(this.procfs, 'pressure'), { recursive: true });
    mkdirSync(path.join(this.procfs, 'self'), { recursive: true });
    mkdirSync(this.cgroup2, { recursive: true });
    writeFileSync(path.join(this.cgroup2, 'cgroup.controllers'), 'cpu io memory pids\n');
    copyFileSync(path.join(MOUNTINFO, 'hybrid.txt'), path.join(this.procfs, 'self/mountinfo'));
    for (const r of ['memory', 'io']) this.hostPressure(r, line('some', '0.00', 1_000_000) + line('full', '0.00', 500_000));
    this.hostPressure('cpu', line('some', '2.00', 7_000_000) + line('full', '0.00', 0));
    this.hostPressure('irq', line('full', '0.10', 45_678));
  }
  hostPressure(resource: string, text: string): void {
    writeFileSync(path.join(this.procfs, 'pressure', resource), text);
  }
  cgroup(cgroupPath: string, cpuSome: number, cpuFull?: number): void {
    const dir = path.join(this.cgroup2, cgroupPath);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'cpu.pressure'), line('some', '25.00', cpuSome) + (cpuFull === undefined ? '' : line('full', '10.00', cpuFull)));
    writeFileSync(path.join(dir, 'memory.pressure'), line('some', '0.00', 10) + line('full', '0.00', 5));
    writeFileSync(path.join(dir, 'io.pressure'), line('some', '0.00', 300) + line('full', '0.00', 100));
  }
  process(pid: number, cgroupPath: string | undefined): void {
    mkdirSync(path.join(this.procfs, String(pid)), { recursive: true });
    const v1 = '4:memory:/process_api\n1:cpu:/\n';
    writeFileSync(path.join(this.procfs, String(pid), 'cgroup'), cgroupPath === undefined ? v1 : `${v1}0::${cgroupPath}\n`);
  }
}

function setup(
  t: TestContext, options: Partial<PsiCollectorOptions> & { cgroup2Root?: string | undefined; rootfs?: string | undefined } = {},
): { host: Host; psi: PsiCollector; registry: Registry; logs: string[] } {
  const dir = mkdtempSync(path.join(tmpdir(), 'psi-collector-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const host = new Host(dir);
  const logs: string[] = [];
  const { cgroup2Root, rootfs, ...rest } = options;
  const exporterHost = new ExporterHost({ procfsRoot: host.procfs, cgroup2Root: 'cgroup2Root' in options ? cgroup2Root : host.cgroup2, rootfs, containerNames: false });
  const psi = new PsiCollector({
    enabled: true, averages: false, host: exporterHost, log: createLogger({ level: 'debug', write: (l) => logs.push(l) }), ...rest,
  });
  const registry = new Registry();
  psi.register(registry);
  return { host, psi, registry, logs };
}

interface Sample { labels: Record<string, string | number>; value: number }

async function samples(registry: Registry, name: string): Promise<Sample[]> {
  const metric = registry.getSingleMetric(name);
  if (!metric) return [];
  return (await metric.get()).values.map((v) => ({ labels: v.labels as Record<string, string | number>, value: v.value }));
}

async function value(registry: Registry, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const found = (await samples(registry, name)).filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  assert.ok(found.length <= 1, `at most one ${name} series matches ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

test('per-group counters in seconds from the cgroups of the members, cpu full included', async (t) => {
  const { host, psi, registry, logs } = setup(t);
  host.cgroup('/system.slice/crio.service', 2_500_000, 1_250_000);
  host.cgroup('/user.slice', 4_000_000, 3_000);
  host.process(100, '/system.slice/crio.service');
  host.process(101, '/system.slice/crio.service');
  host.process(102, '/user.slice');
  psi.update(psiSnapshot(1, [{ name: 'crio', members: [{ pid: 100 }, { pid: 101 }, { pid: 102 }] }]));

  const waiting = await samples(registry, 'namedprocess_namegroup_pressure_waiting_seconds_total');
  assert.equal(waiting.length, 6, 'two distinct cgroups x three resources');
  const crio = { groupname: 'crio', cgroup: '/system.slice/crio.service' };
  assert.equal(await value(registry, 'namedprocess_namegroup_pressure_waiting_seconds_total', { ...crio, resource: 'cpu' }), 2.5);
  assert.equal(await value(registry, 'namedprocess_namegroup_pressure_stalled_seconds_total', { ...crio, resource: 'cpu' }), 1.25);
  assert.equal(await value(registry, 'namedprocess_namegroup_pressure_waiting_seconds_total', { ...crio, resource: 'io' }), 0.0003);
  assert.equal(await value(registry, 'namedprocess_namegroup_pressure_stalled_seconds_total', { groupname: 'crio', cgroup: '/user.slice', resource: 'cpu' }), 0.003);
  assert.equal(await value(registry, 'namedprocess_namegroup_pressure_waiting_seconds_total', { groupname: 'crio', cgroup: '/user.slice', resource: 'memory' }), 0.00001);
  assert.equal(registry.getSingleMetric('namedprocess_namegroup_pressure_ratio'), undefined, 'averages are opt-in');
  assert.deepEqual(logs, []);
});

test('host counters: irq where present, no constant-zero system-wide cpu full', async (t) => {
  const { host, psi, registry } = setup(t);
  host.process(100, '/');
  host.cgroup('/', 1);
  psi.update(psiSnapshot(1, [{ name: 'init', members: [{ pid: 100 }] }]));
  const hostWaiting = await samples(registry, 'procgroup_exporter_host_pressure_waiting_seconds_total');
  assert.deepEqual(hostWaiting.map((s) => [s.labels['resource'], s.value]).sort(), [['cpu', 7], ['io', 1], ['memory', 1]]);
  const hostStalled = await samples(registry, 'procgroup_exporter_host_pressure_stalled_seconds_total');
  assert.deepEqual(hostStalled.map((s) => [s.labels['resource'], s.value]).sort(), [['io', 0.5], ['irq', 0.045678], ['memory', 0.5]]);
});

test('cpu pressure without a full line (Linux < 5.13) exports waiting only; no irq file is fine', async (t) => {
  const { host, psi, registry } = setup(t);
  rmSync(path.join(host.procfs, 'pressure/irq'));
  host.cgroup('/a', 1_000_000);
  host.process(100, '/a');
  psi.update(psiSnapshot(1, [{ name: 'a', members: [{ pid: 100 }] }]));
  assert.equal(await value(registry, 'namedprocess_namegroup_pressure_waiting_seconds_total', { resource: 'cpu' }), 1);
  assert.equal(await value(registry, 'namedprocess_namegroup_pressure_stalled_seconds_total', { resource: 'cpu' }), undefined);
  assert.equal(await value(registry, 'namedprocess_namegroup_pressure_stalled_seconds_total', { resource: 'memory' }), 0.000005);
  assert.equal(await value(registry, 'procgroup_exporter_host_pressure_stalled_seconds_total', { resource: 'irq' }), undefined);
});

test('averages: ratio gauges 0..1 by kind and window, for groups and host', async (t) => {
  const { host, psi, registry } = setup(t, { averages: true });
  host.cgroup('/a', 1_000_000, 500_000);
  host.process(100, '/a');
  psi.update(psiSnapshot(1, [{ name: 'a', members: [{ pid: 100 }] }]));
  const ratio = await samples(registry, 'namedprocess_namegroup_pressure_ratio');
  assert.equal(ratio.length, 3 * 2 * 3, 'three resources x some/full x three windows');
  assert.ok(ratio.every((s) => s.value >= 0 && s.value <= 1));
  assert.equal(await value(registry, 'namedprocess_namegroup_pressure_ratio', { resource: 'cpu', kind: 'some', window: '10s' }), 0.25);
  assert.equal(await value(registry, 'namedprocess_namegroup_pressure_ratio', { resource: 'cpu', kind: 'full', window: '10s' }), 0.1);
  assert.equal(await value(registry, 'namedprocess_namegroup_pressure_ratio', { resource: 'cpu', kind: 'full', window: '300s' }), 0.005);
  assert.equal(await value(registry, 'procgroup_exporter_host_pressure_ratio', { resource: 'cpu', kind: 'some', window: '10s' }), 0.02);
  assert.equal(await value(registry, 'procgroup_exporter_host_pressure_ratio', { resource: 'irq', kind: 'full', window: '60s' }), 0.01);
});

test('group labels and container labels; a group label of the same name wins', async (t) => {
  const identity: ContainerIdentity = {
    podUid: 'uid-1', qos: 'burstable', containerId: 'abc', runtime: 'crio', namespace: 'shop', pod: 'carts-1', container: 'carts',
  };
  const seen: string[] = [];
  const resolveContainer = (p: string): ContainerIdentity | undefined => {
    seen.push(p);
    return p.includes('crio-abc') ? identity : undefined;
  };
  const { host, psi, registry } = setup(t, { groupLabelNames: ['class', 'namespace'], resolveContainer });
  const ctr = '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-poduid_1.slice/crio-abc.scope';
  host.cgroup(ctr, 3_000_000);
  host.cgroup('/system.slice/kubelet.service', 1_000_000);
  host.process(100, ctr);
  host.process(101, '/system.slice/kubelet.service');
  psi.update(psiSnapshot(1, [{ name: 'conmon', labels: { class: 'workload', namespace: 'from-config' }, members: [{ pid: 100 }, { pid: 101 }] }]));
  const waiting = await samples(registry, 'namedprocess_namegroup_pressure_waiting_seconds_total');
  const container = waiting.find((s) => s.labels['cgroup'] === ctr && s.labels['resource'] === 'cpu');
  assert.deepEqual(container?.labels, { groupname: 'conmon', class: 'workload', namespace: 'from-config', cgroup: ctr, pod: 'carts-1', container: 'carts', resource: 'cpu' });
  const kubelet = waiting.find((s) => s.labels['cgroup'] === '/system.slice/kubelet.service' && s.labels['resource'] === 'cpu');
  assert.deepEqual(kubelet?.labels, { groupname: 'conmon', class: 'workload', namespace: 'from-config', cgroup: '/system.slice/kubelet.service', resource: 'cpu' });
  assert.deepEqual([...new Set(seen)].sort(), [ctr, '/system.slice/kubelet.service'].sort());
  const report = psi.report();
  assert.deepEqual(report.groups?.[0]?.cgroups[ctr]?.namespace, 'shop', '/psi shows the container\'s own names');
});

test('two groups sharing a cgroup both report it, reading its files once', async (t) => {
  const { host, psi, registry } = setup(t);
  host.cgroup('/shared', 2_000_000);
  host.process(100, '/shared');
  host.process(101, '/shared');
  psi.update(psiSnapshot(1, [{ name: 'a', members: [{ pid: 100 }] }, { name: 'b', members: [{ pid: 101 }] }]));
  assert.equal(await value(registry, 'namedprocess_namegroup_pressure_waiting_seconds_total', { groupname: 'a', resource: 'cpu' }), 2);
  assert.equal(await value(registry, 'namedprocess_namegroup_pressure_waiting_seconds_total', { groupname: 'b', resource: 'cpu' }), 2);
});

test('a process moved to another cgroup is followed on the next cycle', async (t) => {
  const { host, psi, registry } = setup(t);
  host.cgroup('/before', 1_000_000);
  host.cgroup('/after', 9_000_000);
  host.process(100, '/before');
  const snap = (cycle: number) => psiSnapshot(cycle, [{ name: 'a', members: [{ pid: 100, startTime: 5, cgroupPath: '/before' }] }]);
  psi.update(snap(1));
  assert.equal(await value(registry, 'namedprocess_namegroup_pressure_waiting_seconds_total', { cgroup: '/before', resource: 'cpu' }), 1);
  host.process(100, '/after');
  psi.update(snap(2));
  assert.equal(await value(registry, 'namedprocess_namegroup_pressure_waiting_seconds_total', { cgroup: '/before', resource: 'cpu' }), undefined);
  assert.equal(await value(registry, 'namedprocess_namegroup_pressure_waiting_seconds_total', { cgroup: '/after', resource: 'cpu' }), 9);
});

test('cgroupRecheckCycles: the cached cgroup is used until it is that many cycles old', async (t) => {
  const { host, psi, registry } = setup(t, { cgroupRecheckCycles: 3 });
  host.cgroup('/before', 1_000_000);
  host.cgroup('/after', 9_000_000);
  host.process(100, '/before');
  const snap = (cycle: number) => psiSnapshot(cycle, [{ name: 'a', members: [{ pid: 100, startTime: 5 }] }]);
  psi.update(snap(1));
  host.process(100, '/after');
  const cgroups = async () => (await samples(registry, 'namedprocess_namegroup_pressure_waiting_seconds_total')).map((s) => s.labels['cgroup']);
  psi.update(snap(2));
  psi.update(snap(3));
  assert.deepEqual([...new Set(await cgroups())], ['/before']);
  psi.update(snap(4));
  assert.deepEqual([...new Set(await cgroups())], ['/after']);
});

test('exited processes, vanished cgroups and v1-only members are skipped silently', async (t) => {
  const { host, psi, registry, logs } = setup(t);
  host.cgroup('/alive', 1_000_000);
  host.process(100, '/alive');
  host.process(101, '/removed-cgroup');
  host.process(102, undefined);
  psi.update(psiSnapshot(1, [{ name: 'a', members: [{ pid: 100 }, { pid: 101 }, { pid: 102 }, { pid: 999 }] }]));
  const waiting = await samples(registry, 'namedprocess_namegroup_pressure_waiting_seconds_total');
  assert.deepEqual([...new Set(waiting.map((s) => s.labels['cgroup']))], ['/alive']);
  assert.deepEqual(logs, []);
});

test('a member cgroup outside the mount (a container\'s own cgroup2 view) is skipped with one warning', async (t) => {
  const { host, psi, registry, logs } = setup(t);
  host.cgroup('/inside', 1_000_000);
  host.process(100, '/inside');
  host.process(101, '/../../kubepods.slice/pod-a');
  host.process(102, '/../../kubepods.slice/pod-b');
  for (const cycle of [1, 2]) psi.update(psiSnapshot(cycle, [{ name: 'a', members: [{ pid: 100 }, { pid: 101 }, { pid: 102 }] }]));
  const waiting = await samples(registry, 'namedprocess_namegroup_pressure_waiting_seconds_total');
  assert.deepEqual([...new Set(waiting.map((s) => s.labels['cgroup']))], ['/inside']);
  assert.equal(logs.length, 1);
  assert.match(logs[0] ?? '', /level=warn msg="psi: cgroup \/\.\.\/\.\.\/kubepods\.slice\/pod-a of pid 101 is outside the cgroup2 mount .* \(mount root \/\); mount the host's \/sys/);
});

test('a cgroup whose pressure file cannot be parsed is skipped with one log line', async (t) => {
  const { host, psi, registry, logs } = setup(t);
  host.cgroup('/good', 1_000_000);
  host.cgroup('/bad', 1_000_000);
  writeFileSync(path.join(host.cgroup2, 'bad/io.pressure'), 'some avg10=x avg60=0.00 avg300=0.00 total=0\n');
  host.process(100, '/good');
  host.process(101, '/bad');
  for (const cycle of [1, 2]) psi.update(psiSnapshot(cycle, [{ name: 'a', members: [{ pid: 100 }, { pid: 101 }] }]));
  const waiting = await samples(registry, 'namedprocess_namegroup_pressure_waiting_seconds_total');
  assert.deepEqual([...new Set(waiting.map((s) => s.labels['cgroup']))], ['/good']);
  assert.equal(logs.length, 1, 'logged once, not every cycle');
  assert.match(logs[0] ?? '', /level=warn msg="psi: skipping cgroup \/bad" err=".*bad\/io\.pressure: line 1 \(some\): field avg10/);
});

test('kernel without PSI: typed error naming the fix, every cycle; /psi says why', async (t) => {
  const { host, psi, logs } = setup(t);
  rmSync(path.join(host.procfs, 'pressure'), { recursive: true });
  host.process(100, '/');
  for (const cycle of [1, 2]) {
    assert.throws(() => psi.update(psiSnapshot(cycle, [{ name: 'a', members: [{ pid: 100 }] }])),
      (err: unknown) => err instanceof ExporterError && err.code === 'PSI_UNAVAILABLE' &&
        err.message === `${host.procfs}/pressure/cpu is missing: the kernel has PSI disabled (boot with the kernel argument psi=1; on OpenShift/RHCOS add it with a MachineConfig)`);
  }
  assert.deepEqual(logs, [], 'the collection loop logs collector failures (once per distinct message)');
  const report = psi.report();
  assert.equal(report.available, false);
  assert.match(report.reason ?? '', /psi=1/);
});

test('cgroup v1 only host: typed error naming the mount table', async (t) => {
  const { host, psi } = setup(t, { cgroup2Root: undefined });
  copyFileSync(path.join(MOUNTINFO, 'v1-only.txt'), path.join(host.procfs, 'self/mountinfo'));
  host.process(100, undefined);
  assert.throws(() => psi.update(psiSnapshot(1, [{ name: 'a', members: [{ pid: 100 }] }])),
    (err: unknown) => err instanceof ExporterError && err.code === 'PSI_UNAVAILABLE' &&
      err.message === `no cgroup2 filesystem in ${host.procfs}/self/mountinfo (cgroup v1 only host): per-group pressure needs cgroup v2 (boot with systemd.unified_cgroup_hierarchy=1, or mount cgroup2), or pass the cgroup2 root explicitly`);
});

test('a cgroup2 directory that is not there (wrong rootfs) is an error, not silence', async (t) => {
  const { host, psi } = setup(t, { cgroup2Root: undefined, rootfs: '/nonexistent-rootfs' });
  mkdirSync(path.join(host.procfs, '1'));
  copyFileSync(path.join(MOUNTINFO, 'v2-pure.txt'), path.join(host.procfs, '1/mountinfo'));
  host.process(100, '/');
  assert.throws(() => psi.update(psiSnapshot(1, [{ name: 'a', members: [{ pid: 100 }] }])),
    (err: unknown) => err instanceof ExporterError && err.code === 'PSI_UNAVAILABLE' &&
      err.message.startsWith(`/nonexistent-rootfs/sys/fs/cgroup (from ${host.procfs}/1/mountinfo) is not a cgroup2 directory`));
});

test('PSI that becomes available is picked up', async (t) => {
  const { host, psi, registry } = setup(t);
  rmSync(path.join(host.procfs, 'pressure/cpu'));
  host.cgroup('/a', 1_000_000);
  host.process(100, '/a');
  const snap = (cycle: number) => psiSnapshot(cycle, [{ name: 'a', members: [{ pid: 100 }] }]);
  assert.throws(() => psi.update(snap(1)));
  psi.reset();
  host.hostPressure('cpu', line('some', '0.00', 1));
  psi.update(snap(2));
  assert.equal(await value(registry, 'namedprocess_namegroup_pressure_waiting_seconds_total', { resource: 'cpu' }), 1);
  assert.equal(psi.report().available, true);
});

test('reset drops every series', async (t) => {
  const { host, psi, registry } = setup(t, { averages: true });
  host.cgroup('/a', 1_000_000);
  host.process(100, '/a');
  psi.update(psiSnapshot(1, [{ name: 'a', members: [{ pid: 100 }] }]));
  assert.ok((await registry.metrics()).includes('namedprocess_namegroup_pressure_ratio{'));
  psi.reset();
  assert.doesNotMatch(await registry.metrics(), /^[a-z_]+\{/m);
});

test('report: per group, per cgroup, per resource; averages as ratios, totals in seconds, plus host', async (t) => {
  const { host, psi } = setup(t);
  assert.equal(psi.report().available, false);
  host.cgroup('/a', 1_500_000, 250_000);
  host.process(100, '/a');
  psi.update(psiSnapshot(7, [{ name: 'a', labels: { class: 'infra' }, members: [{ pid: 100 }] }, { name: 'empty', members: [] }]));
  const report = psi.report();
  assert.equal(report.available, true);
  assert.equal(report.cycle, 7);
  assert.deepEqual(report.cgroup2, { directory: host.cgroup2, origin: 'override' });
  assert.deepEqual(report.host?.irq, { full: { avg10: 0.001, avg60: 0.01, avg300: 0.005, total_seconds: 0.045678 } });
  assert.deepEqual(report.groups?.map((g) => g.groupname), ['a', 'empty']);
  assert.deepEqual(report.groups?.[0]?.labels, { class: 'infra' });
  assert.deepEqual(report.groups?.[0]?.cgroups['/a']?.cpu, {
    some: { avg10: 0.25, avg60: 0.01, avg300: 0.005, total_seconds: 1.5 },
    full: { avg10: 0.1, avg60: 0.01, avg300: 0.005, total_seconds: 0.25 },
  });
  assert.deepEqual(JSON.parse(JSON.stringify(report)), report, 'plain JSON data');
});

test('disabled: no metrics registered, no reads', async (t) => {
  const { host, psi, registry } = setup(t, { enabled: false });
  rmSync(path.join(host.procfs, 'pressure'), { recursive: true });
  psi.update(psiSnapshot(1, [{ name: 'a', members: [{ pid: 1 }] }]));
  assert.equal((await registry.getMetricsAsJSON()).length, 0);
  assert.equal(psi.report().enabled, false);
});

test('a group label named like a PSI label is refused', () => {
  assert.throws(() => new PsiCollector({ enabled: true, averages: false, host: new ExporterHost({ procfsRoot: '/proc' }), groupLabelNames: ['cgroup'] }),
    (err: unknown) => err instanceof ExporterError && err.code === 'CONFIG_INVALID' && /"cgroup"/.test(err.message));
});

test('exposition passes promtool check metrics', async (t) => {
  let promtool = true;
  try {
    execFileSync('promtool', ['--version'], { stdio: 'ignore' });
  } catch {
    promtool = false;
  }
  if (!promtool) {
    t.skip('promtool not installed (apt-get install prometheus)');
    return;
  }
  const { host, psi, registry } = setup(t, { averages: true });
  host.cgroup('/a', 1_000_000, 1);
  host.process(100, '/a');
  psi.update(psiSnapshot(1, [{ name: 'a', members: [{ pid: 100 }] }]));
  const text = await registry.metrics();
  const out = execFileSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  assert.equal(out.trim(), '');
});

test('ratios keep the kernel\'s precision (two decimals of percent) without float noise', async (t) => {
  const { host, psi, registry } = setup(t, { averages: true });
  host.cgroup('/a', 1);
  writeFileSync(path.join(host.cgroup2, 'a/cpu.pressure'), 'some avg10=97.73 avg60=0.61 avg300=100.00 total=1\n');
  host.process(100, '/a');
  psi.update(psiSnapshot(1, [{ name: 'a', members: [{ pid: 100 }] }]));
  const ratio = (window: string) => value(registry, 'namedprocess_namegroup_pressure_ratio', { resource: 'cpu', kind: 'some', window });
  assert.equal(await ratio('10s'), 0.9773);
  assert.equal(await ratio('60s'), 0.0061);
  assert.equal(await ratio('300s'), 1);
  assert.equal(psi.report().groups?.[0]?.cgroups['/a']?.cpu?.some?.avg10, 0.9773);
});

test('groupPressure: share of the interval stalled from the growth of total=, the worst cgroup of the group; null before a baseline', (t) => {
  const { host, psi } = setup(t);
  host.cgroup('/one', 1_000_000, 1_000_000);
  host.cgroup('/two', 5_000_000);
  host.process(100, '/one');
  host.process(101, '/two');
  const groups = [{ name: 'a', labels: { env: 'x' }, members: [{ pid: 100 }, { pid: 101 }] }];
  psi.update({ ...psiSnapshot(1, groups), timeMs: 10_000 });
  assert.deepEqual(psi.groupPressure({ name: 'a', labels: { env: 'x' } }), {
    cpu: { some: null, full: null }, memory: { some: null, full: null }, io: { some: null, full: null },
  });
  // 2 s later: /one waited 0.5 s (25%) and stalled 0.2 s (10%), /two waited 1 s (50%) and has no full line
  host.cgroup('/one', 1_500_000, 1_200_000);
  host.cgroup('/two', 6_000_000);
  psi.update({ ...psiSnapshot(2, groups), timeMs: 12_000 });
  assert.deepEqual(psi.groupPressure({ name: 'a', labels: { env: 'x' } }), {
    cpu: { some: 0.5, full: 0.1 }, memory: { some: 0, full: 0 }, io: { some: 0, full: 0 },
  });
  assert.equal(psi.groupPressure({ name: 'a', labels: { env: 'y' } }), undefined, 'another label set is another group');
  // a cgroup re-created under the same path restarts its totals: clamped to 0, not negative
  host.cgroup('/one', 100, 100);
  host.cgroup('/two', 100);
  psi.update({ ...psiSnapshot(3, groups), timeMs: 14_000 });
  assert.deepEqual(psi.groupPressure({ name: 'a', labels: { env: 'x' } })?.cpu, { some: 0, full: 0 });
});
