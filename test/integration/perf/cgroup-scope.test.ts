/**
 * Cgroup scope against a real cgroup v2 directory shaped like a CRI-O container's
 * (kubepods.slice/.../crio-<id>.scope): one counter per CPU and event, counting every task the
 * kernel charges to the cgroup, compared with the cgroup's own cpu.stat usage_usec.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { kubeletCgroupRoot } from '../../../src/cgroup/container-id.js';
import { discoverCgroup2Mount } from '../../../src/cgroup/mountinfo.js';
import { Host } from '../../../src/host/host.js';
import { readOnlineCpus } from '../../../src/perf/cgroup-scope.js';
import { ProcReader } from '../../../src/host/proc-reader.js';
import { Burn, TASK_CLOCK, assertClose, member, metricValue, perfCollector, rootMissing, sleep, snapshot, workloadMissing } from './workload.js';

const mount = discoverCgroup2Mount(new ProcReader('/proc'), {});
const skip = rootMissing() || workloadMissing || (!mount && 'no cgroup2 mount in /proc/self/mountinfo');
if (skip) console.log(`# skipped: ${skip}`);

const EVENTS = ['TaskClock', 'ContextSwitches'];

/**
 * A kubepods-shaped cgroup under a test directory, removed (with its parents) after the test, once
 * the processes moved into it are stopped. `host` is told that directory is the kubelet's cgroup root.
 */
function containerCgroup(t: TestContext, burns: readonly Burn[]): { path: string; dir: string; host: Host } {
  const mountDir = mount?.directory ?? '';
  const uid = randomBytes(16).toString('hex').replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1_$2_$3_$4_');
  const top = `perf-itest-${process.pid}-${randomBytes(4).toString('hex')}`;
  const rel = [top, 'kubepods.slice', 'kubepods-besteffort.slice', `kubepods-besteffort-pod${uid}.slice`, `crio-${randomBytes(32).toString('hex')}.scope`];
  const dirs = rel.map((_, i) => path.join(mountDir, ...rel.slice(0, i + 1)));
  for (const dir of dirs) mkdirSync(dir);
  t.after(async () => {
    for (const b of burns) await b.stop();
    for (const dir of dirs.reverse()) {
      for (let attempt = 0; existsSync(dir); attempt++) {
        try {
          rmdirSync(dir);
        } catch (err) {
          if (attempt >= 50) throw err;
          await sleep(20); // EBUSY until killed tasks are gone
        }
      }
    }
  });
  const host = new Host({ procfsRoot: '/proc', containerNames: false, kubeletCgroupRoot: kubeletCgroupRoot(`/${top}`) });
  return { path: `/${rel.join('/')}`, dir: dirs[dirs.length - 1] as string, host };
}

function usageSeconds(dir: string): number {
  const m = /^usage_usec (\d+)$/m.exec(readFileSync(path.join(dir, 'cpu.stat'), 'utf8'));
  return Number(m?.[1]) / 1e6;
}

test('auto scope: a container group is counted per CPU on its cgroup and matches the cgroup\'s cpu.stat within 5%', { skip }, async (t) => {
  const busy = await Burn.start(3, 50);
  const host = await Burn.start(0, 100);
  const cg = containerCgroup(t, [busy, host]);
  writeFileSync(path.join(cg.dir, 'cgroup.procs'), String(busy.pid));
  const c = perfCollector({ events: EVENTS, scope: 'auto', host: cg.host });
  const groups = () => [
    { name: 'pod', members: [member(busy.pid, cg.path)] },
    { name: 'host', members: [member(host.pid, '/')] },
  ];
  try {
    c.collector.update(snapshot(1, groups()));
    const cpus = readOnlineCpus().length;
    // pod: one per CPU and event (not per thread: 4 threads); host: its one thread per event
    assert.equal(c.collector.openFds, cpus * EVENTS.length + EVENTS.length);
    const used0 = usageSeconds(cg.dir);
    const perf0 = (await metricValue(c.registry, TASK_CLOCK, { groupname: 'pod' })) ?? 0;
    await sleep(2000);
    c.collector.update(snapshot(2, groups()));
    const used = usageSeconds(cg.dir) - used0;
    const perf = ((await metricValue(c.registry, TASK_CLOCK, { groupname: 'pod' })) ?? 0) - perf0;
    console.log(`# cgroup cpu.stat usage +${used.toFixed(3)} s, perf task-clock +${perf.toFixed(3)} s on ${cpus} CPUs`);
    assert.ok(used > 0.5, `the workload ran (${used} s)`);
    assertClose(perf, used, 0.05, 'cgroup task-clock vs cpu.stat usage_usec');

    // the container's processes are gone: its counters are read one last time and closed
    c.collector.update(snapshot(3, [{ name: 'pod', members: [] }, { name: 'host', members: [member(host.pid, '/')] }]));
    assert.equal(c.collector.openFds, EVENTS.length);
    assert.ok(((await metricValue(c.registry, TASK_CLOCK, { groupname: 'pod' })) ?? 0) >= perf0 + perf, 'the pod group keeps its counts');
  } finally {
    c.collector.close();
  }
});

test('a container cgroup shared with another group is counted per process (auto) or not at all (cgroup)', { skip }, async (t) => {
  const a = await Burn.start(0, 100);
  const b = await Burn.start(0, 100);
  const cg = containerCgroup(t, [a, b]);
  for (const p of [a.pid, b.pid]) writeFileSync(path.join(cg.dir, 'cgroup.procs'), String(p));
  const groups = [
    { name: 'app', members: [member(a.pid, cg.path)] },
    { name: 'sidecar', members: [member(b.pid, cg.path)] },
    { name: 'host', members: [member(process.pid, '/')] },
  ];
  const auto = perfCollector({ events: EVENTS, scope: 'auto', host: cg.host });
  try {
    auto.collector.update(snapshot(1, groups));
    // each process per task: a cgroup counter would count both groups' processes twice
    const threads = 1 + 1 + Number(readFileSync(`/proc/${process.pid}/stat`, 'utf8').split(') ')[1]?.split(' ')[17]);
    assert.equal(auto.collector.openFds, threads * EVENTS.length);
    assert.equal(auto.logs.filter((l) => l.includes('also hold processes of other groups')).length, 2);
  } finally {
    auto.collector.close();
  }
  const only = perfCollector({ events: EVENTS, scope: 'cgroup', host: cg.host });
  try {
    only.collector.update(snapshot(1, groups));
    assert.equal(only.collector.openFds, 0, 'cgroup scope counts container groups only, and these two share their cgroup');
    assert.equal(await metricValue(only.registry, TASK_CLOCK, { groupname: 'host' }), undefined);
  } finally {
    only.collector.close();
  }
});
