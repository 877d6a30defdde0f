/**
 * The perf collector inside the real collection loop (tracker walking /proc -> grouper -> collectors),
 * next to the group collector: the group's perf task-clock must rise like its cpu_seconds_total,
 * events this machine lacks (hardware events in a VM) are reported once, and a perf collector that
 * can count nothing fails on its own while the other metrics keep flowing.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Registry } from 'prom-client';
import { Collection } from '../../../src/pipeline/collection.js';
import { GroupCollector } from '../../../src/collectors/group.js';
import { PerfCollector } from '../../../src/collectors/perf.js';
import type { ProcessMatcher } from '../../../src/config/attributes.js';
import { Grouper } from '../../../src/grouper/grouper.js';
import { createLogger } from '../../../src/log.js';
import { encodeAttr, COUNTING_READ_FORMAT } from '../../../src/perf/attr.js';
import { findEvent } from '../../../src/perf/events.js';
import { closeFd, perfEventOpen } from '../../../src/perf/syscall.js';
import { Tracker } from '../../../src/tracker/tracker.js';
import { Burn, TASK_CLOCK, assertClose, metricValue, rootMissing, sleep, workloadMissing } from './workload.js';
import { Host } from '../../../src/host/host.js';

const skip = rootMissing() || workloadMissing;
if (skip) console.log(`# skipped: ${skip}`);

const burns: Burn[] = [];
after(async () => {
  for (const b of burns) await b.stop();
});

function supportedHere(name: string): boolean {
  const spec = findEvent(name);
  assert.ok(spec);
  try {
    closeFd(perfEventOpen(encodeAttr({ type: spec.type, config: spec.config, readFormat: COUNTING_READ_FORMAT, flags: {} }), 0, -1, -1, 0));
    return true;
  } catch {
    return false;
  }
}

function pipeline(pid: number, events: string[]): { collection: Collection; registry: Registry; lines: string[] } {
  const lines: string[] = [];
  const log = createLogger({ level: 'info', write: (l) => lines.push(l) });
  const matcher: ProcessMatcher = { labelNames: [], match: (p) => (p.pid === pid ? { name: 'burn', labels: {} } : undefined) };
  const tracker = new Tracker({
    host: new Host({ procfsRoot: '/proc' }), matcher, children: true, threads: false, threadDetails: false, gatherSmaps: false, recheck: false, pageSize: 4096,
  });
  const grouper = new Grouper({ removeEmptyGroups: false, gatherSmaps: false, threadNameTtlCycles: 40 });
  const registry = new Registry();
  const perf = new PerfCollector({
    enabled: true, events, scope: 'auto', inherit: 'threads', maxFds: 4096, host: new Host({ procfsRoot: '/proc' }), groupLabelNames: [], log,
  });
  const collection = new Collection({
    tracker, grouper, collectors: [new GroupCollector({ labelNames: [], gatherSmaps: false }), perf], registry, minIntervalMs: 0, log,
  });
  return { collection, registry, lines };
}

async function groupCpu(registry: Registry): Promise<number> {
  const user = (await metricValue(registry, 'namedprocess_namegroup_cpu_seconds_total', { groupname: 'burn', mode: 'user' })) ?? 0;
  const system = (await metricValue(registry, 'namedprocess_namegroup_cpu_seconds_total', { groupname: 'burn', mode: 'system' })) ?? 0;
  return user + system;
}

test('perf_task_clock_seconds_total rises like cpu_seconds_total (within 5%); unsupported events are reported once', { skip }, async () => {
  const burn = await Burn.start(3, 60);
  burns.push(burn);
  const events = ['CPUCycles', 'Instructions', 'L1DataReadMiss', 'TaskClock'];
  const unsupported = events.filter((e) => !supportedHere(e));
  console.log(`# not supported here: ${unsupported.join(', ') || 'none'}`);
  const { collection, registry, lines } = pipeline(burn.pid, events);
  try {
    // the first cycle opens the counters after its walk: measure between two later cycles
    await collection.collect();
    await sleep(200);
    await collection.collect();
    const cpu0 = await groupCpu(registry);
    const perf0 = (await metricValue(registry, TASK_CLOCK, { groupname: 'burn' })) ?? 0;
    await sleep(2500);
    await collection.collect();
    const cpu = (await groupCpu(registry)) - cpu0;
    const perf = ((await metricValue(registry, TASK_CLOCK, { groupname: 'burn' })) ?? 0) - perf0;
    console.log(`# cpu_seconds_total +${cpu.toFixed(3)} s, perf_task_clock_seconds_total +${perf.toFixed(3)} s`);
    assert.ok(cpu > 0.5, `the workload ran (${cpu} s)`);
    assertClose(perf, cpu, 0.05, 'perf_task_clock_seconds_total vs cpu_seconds_total');

    await collection.collect();
    assert.equal(await metricValue(registry, 'procgroup_exporter_scrape_collector_success', { collector: 'perf' }), 1);
    for (const e of events) {
      const reported = lines.filter((l) => l.includes('event not supported') && l.includes(`event=${e} `));
      assert.equal(reported.length, unsupported.includes(e) ? 1 : 0, `${e} reported ${reported.length} times: ${reported.join('')}`);
      assert.equal(await metricValue(registry, 'procgroup_exporter_perf_event_supported', { event: e }), unsupported.includes(e) ? 0 : 1, e);
      const family = findEvent(e)?.metric ?? '';
      assert.equal(registry.getSingleMetric(family) !== undefined, !unsupported.includes(e), `${family} registered only when supported`);
    }
  } finally {
    await collection.close();
  }
});

test('a perf collector that can count nothing fails alone: logged once, success 0, group metrics keep flowing', { skip }, async (t) => {
  const hardware = ['CPUCycles', 'Instructions'];
  if (hardware.some(supportedHere)) {
    t.skip('this machine has a hardware PMU: no event set here is unsupported');
    return;
  }
  const burn = await Burn.start(1, 20);
  burns.push(burn);
  const { collection, registry, lines } = pipeline(burn.pid, hardware);
  try {
    for (let i = 0; i < 3; i++) await collection.collect();
    const failures = lines.filter((l) => l.includes('collector failed') && l.includes('collector=perf'));
    assert.equal(failures.length, 1, `one log line for three failing cycles: ${lines.join('')}`);
    assert.match(failures[0] ?? '', /none of the configured perf events \(CPUCycles, Instructions\) is supported on this machine/);
    assert.equal(await metricValue(registry, 'procgroup_exporter_scrape_collector_success', { collector: 'perf' }), 0);
    assert.equal(await metricValue(registry, 'procgroup_exporter_scrape_collector_success', { collector: 'group' }), 1);
    assert.ok(((await groupCpu(registry)) ?? 0) >= 0 && (await metricValue(registry, 'namedprocess_namegroup_num_procs', { groupname: 'burn' })) === 1);
    for (const e of hardware) assert.equal(await metricValue(registry, 'procgroup_exporter_perf_event_supported', { event: e }), 0, e);
  } finally {
    await collection.close();
  }
});
