import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { discoverCgroup2Mount } from '../../src/cgroup/mountinfo.js';
import { ProcReader } from '../../src/host/proc-reader.js';
import { exporterCommand, freePort, namespaceSkipReason, runInPidNamespace, sample, sampleSum, scrape } from '../helpers/namespace.js';
import { namedWorkload, sleep, startWorkload } from '../helpers/workload.js';
import { startExporter } from '../helpers/exporter-process.js';

/**
 * config/default.yaml must account for (almost) all process CPU: pid 1, every top-level process
 * with its descendants (short-lived ones through cutime/cstime), and kernel threads.
 */
const hostCpu = (text: string) => sampleSum(text, 'procgroup_exporter_host_cpu_seconds_total');
const unaccounted = (text: string) => sample(text, 'procgroup_exporter_unaccounted_cpu_seconds_total') ?? NaN;
const groupsCpu = (text: string) => sampleSum(text, 'namedprocess_namegroup_cpu_seconds_total');

test('on the host /proc, unaccounted CPU is under 5% of host process CPU over 30 s of load', { timeout: 90_000 }, async (t) => {
  // every process of the machine is in scope here, so other load on the host is covered too
  const exporter = await startExporter(['-collect.min-interval', '0s']);
  const busy = [startWorkload('cov-host-busy', ['busy']), startWorkload('cov-host-fork', ['forker', '100', '5', '60'])];
  try {
    await sleep(2000);
    const before = await scrape(`${exporter.url}/metrics`);
    await sleep(30_000);
    const after = await scrape(`${exporter.url}/metrics`);
    const hostDelta = hostCpu(after) - hostCpu(before);
    const missed = unaccounted(after) - unaccounted(before);
    t.diagnostic(`host process CPU ${hostDelta.toFixed(2)} s, all groups ${(groupsCpu(after) - groupsCpu(before)).toFixed(2)} s, unaccounted ${missed.toFixed(2)} s (${((100 * missed) / hostDelta).toFixed(2)}%)`);
    assert.ok(hostDelta > 25, `the machine was busy (${hostDelta} s of CPU in 30 s)`);
    assert.ok(missed >= 0 && missed < 0.05 * hostDelta, `unaccounted ${missed} s of ${hostDelta} s`);
  } finally {
    busy.forEach((w) => w.stop());
    await exporter.stop();
  }
});

const cgroupRoot = process.getuid?.() === 0 ? discoverCgroup2Mount(new ProcReader('/proc'), {}) : undefined;
const nsSkip = namespaceSkipReason() ?? (cgroupRoot ? undefined : 'no cgroup2 mount to measure the namespace CPU');
if (nsSkip) console.log(`# skipped: ${nsSkip}`);

test('in a PID namespace the test owns, the groups hold all of the tree CPU (cgroup cpu.stat as truth)', { skip: nsSkip, timeout: 90_000 }, async (t) => {
  // the namespace runs in its own cgroup v2 directory, whose cpu.stat counts every CPU
  // microsecond of its processes, exited ones included, whatever else the host runs
  const dir = join(cgroupRoot?.directory ?? '/nonexistent', `procgroup-coverage-${process.pid}`);
  mkdirSync(dir);
  const usage = () => Number(/^usage_usec (\d+)/m.exec(readFileSync(join(dir, 'cpu.stat'), 'utf8'))?.[1]) / 1e6;
  const port = await freePort();
  const ns = runInPidNamespace(`
echo 0 > '${dir}/cgroup.procs'
'${namedWorkload('cov-busy')}' busy &
'${namedWorkload('cov-forker')}' forker 100 5 60 &
${exporterCommand(['serve', '-web.listen-address', `127.0.0.1:${port}`, '-collect.min-interval', '0s'])} 2>/dev/null &
wait
`);
  try {
    const url = `http://127.0.0.1:${port}/metrics`;
    await scrape(url);
    await sleep(2000);
    const [before, u0] = [await scrape(url), usage()];
    await sleep(30_000);
    const [after, u1] = [await scrape(url), usage()];
    const truth = u1 - u0;
    const groups = groupsCpu(after) - groupsCpu(before);
    t.diagnostic(`namespace cgroup CPU ${truth.toFixed(2)} s, groups ${groups.toFixed(2)} s (${((100 * (truth - groups)) / truth).toFixed(2)}% missed); exporter's host-level unaccounted ${(unaccounted(after) - unaccounted(before)).toFixed(2)} s`);
    assert.ok(truth > 15, `the tree was busy (${truth} s)`);
    assert.ok(Math.abs(truth - groups) < 0.05 * truth, `groups ${groups} s vs cgroup ${truth} s`);
    assert.equal(sample(after, 'namedprocess_namegroup_num_procs', { groupname: 'pid1:bash' }), 1, 'pid 1 is its own group');
    assert.ok((sample(after, 'namedprocess_namegroup_num_procs', { groupname: 'cov-forker' }) ?? 0) >= 1, 'top-level processes grouped by comm');
  } finally {
    await ns.stop();
    for (let i = 0; i < 50; i++) {
      try {
        rmdirSync(dir);
        break;
      } catch {
        await sleep(100); // processes still exiting
      }
    }
  }
});
