/**
 * The whole chain on this host: a workload burning a known share of a core, the exporter (serve)
 * grouping it, a real Prometheus server (Debian package) scraping the exporter every second with
 * rules/procgroup.rules.yaml loaded, and the recorded namedprocess_namegroup_cpu_rate read back
 * through Prometheus's HTTP API and compared with the workload's real CPU rate, measured from its
 * own /proc/<pid>/stat. The Grafana dashboard's queries run against the same server.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { findExecutable } from '../../src/kube/kubectl.js';
import { dashboardQueries } from '../helpers/dashboard.js';

const root = path.resolve(import.meta.dirname, '../..');
const prometheusBin = findExecutable('prometheus');
const skip = prometheusBin ? false : 'prometheus is not installed (apt-get install prometheus; .ci/run does)';

/** share of one core the workload burns */
const TARGET = 0.5;
/** seconds of recorded data compared with the real rate */
const WINDOW_S = 20;
const TOLERANCE = 0.15;

const work = mkdtempSync(path.join(tmpdir(), 'pe-e2e-'));
// comm (15 bytes at most) names the group: unique, so no other process on the host joins it
const group = `pgburn${process.pid}`.slice(0, 15);
const started: ChildProcess[] = [];
const logs = new Map<string, string>();

function start(name: string, file: string, args: string[]): ChildProcess {
  const child = spawn(file, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  logs.set(name, '');
  const keep = (chunk: Buffer): void => {
    logs.set(name, ((logs.get(name) ?? '') + chunk.toString('utf8')).slice(-4000));
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  started.push(child);
  return child;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.listen(0, '127.0.0.1', resolve).once('error', reject));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function logTail(): string {
  return [...logs].map(([name, text]) => `--- ${name}\n${text}`).join('\n');
}

/**
 * Burns `TARGET` of a core, steadily: it spins until its own CPU time reaches TARGET x elapsed
 * time, then sleeps 5 ms. Run as a node symlinked under the group's name, so comm is the name; the
 * title sets it again because Node 24 renames its main thread (hence the process's comm) MainThread.
 */
const WORKLOAD = `
process.title = ${JSON.stringify(group)};
const start = process.hrtime.bigint();
const cpu0 = process.cpuUsage();
const used = () => { const u = process.cpuUsage(cpu0); return (u.user + u.system) / 1e6; };
const elapsed = () => Number(process.hrtime.bigint() - start) / 1e9;
(function tick() {
  while (used() < ${TARGET} * elapsed()) { /* spin */ }
  setTimeout(tick, 5);
})();
`;

const clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** utime + stime of a process, in seconds, from /proc/<pid>/stat (fields 14 and 15) */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / clockTicks;
}

let promUrl = '';
let exporterUrl = '';
let workload: ChildProcess | undefined;

interface Sample {
  /** unix seconds */
  t: number;
  cpu: number;
}
const realSamples: Sample[] = [];
let sampler: NodeJS.Timeout | undefined;

async function api(pathAndQuery: string): Promise<any> {
  const res = await fetch(`${promUrl}${pathAndQuery}`);
  const body = (await res.json()) as { status: string; data: unknown; error?: string };
  assert.equal(body.status, 'success', `${pathAndQuery}: ${body.error ?? ''}`);
  return body.data;
}

async function query(expr: string, time?: number): Promise<{ metric: Record<string, string>; value: [number, string] }[]> {
  const t = time !== undefined ? `&time=${time}` : '';
  const data = await api(`/api/v1/query?query=${encodeURIComponent(expr)}${t}`);
  return data.result;
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch {
      // not there yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}\n${logTail()}`);
    await sleep(250);
  }
}

/** the real CPU seconds of the workload at unix time t, interpolated between samples */
function realCpuAt(t: number): number {
  const after = realSamples.findIndex((s) => s.t >= t);
  const b = realSamples[after];
  const a = realSamples[after - 1];
  if (!a || !b) throw new Error(`no real CPU samples around ${t}`);
  return a.cpu + ((b.cpu - a.cpu) * (t - a.t)) / (b.t - a.t);
}

before(async () => {
  if (skip) return;
  const link = path.join(work, group);
  symlinkSync(process.execPath, link);
  workload = start('workload', link, ['-e', WORKLOAD]);
  const pid = workload.pid ?? 0;
  sampler = setInterval(() => {
    try {
      realSamples.push({ t: Date.now() / 1000, cpu: cpuSeconds(pid) });
    } catch {
      // the workload is gone: the test will say so
    }
  }, 250);

  const config = path.join(work, 'config.yaml');
  writeFileSync(config, `process_names:\n  - name: "{{.Comm}}"\n    comm: [${group}]\n`);
  const exporterPort = await freePort();
  exporterUrl = `http://127.0.0.1:${exporterPort}`;
  start('exporter', process.execPath, [
    '--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'serve',
    `-config.path=${config}`,
    `-web.listen-address=127.0.0.1:${exporterPort}`,
    // a fresh /proc walk for every 1 s scrape (the default 5 s would serve a cycle again)
    '-collect.min-interval=0',
    '-collector.psi',
  ]);
  await waitFor('the exporter to answer /health', 30_000, async () => ((await fetch(`${exporterUrl}/health`)).ok ? true : undefined));

  const promPort = await freePort();
  promUrl = `http://127.0.0.1:${promPort}`;
  const promConfig = path.join(work, 'prometheus.yml');
  writeFileSync(promConfig, [
    'global:',
    '  scrape_interval: 1s',
    '  scrape_timeout: 1s',
    '  evaluation_interval: 1s',
    'rule_files:',
    `  - ${path.join(root, 'rules/procgroup.rules.yaml')}`,
    'scrape_configs:',
    '  - job_name: procgroup-exporter',
    '    static_configs:',
    `      - targets: ['127.0.0.1:${exporterPort}']`,
    '',
  ].join('\n'));
  start('prometheus', prometheusBin ?? 'prometheus', [
    `--config.file=${promConfig}`,
    `--storage.tsdb.path=${path.join(work, 'data')}`,
    `--web.listen-address=127.0.0.1:${promPort}`,
  ]);
  await waitFor('prometheus ready', 30_000, async () => ((await fetch(`${promUrl}/-/ready`)).ok ? true : undefined));
});

after(async () => {
  if (sampler) clearInterval(sampler);
  for (const child of started) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(10_000)]);
    }
  }
  rmSync(work, { recursive: true, force: true });
});

test('Prometheus scrapes the exporter and loads the recording rules', { skip }, async () => {
  const target = await waitFor('the exporter target to be up', 30_000, async () => {
    const data = await api('/api/v1/targets?state=active');
    return data.activeTargets.find((t: any) => t.health === 'up');
  });
  assert.equal(target.labels.job, 'procgroup-exporter');
  const data = await api('/api/v1/rules?type=record');
  const ruleGroups = data.groups as { name: string; rules: { name: string; health: string }[] }[];
  const names = ruleGroups.flatMap((g) => g.rules.map((r) => r.name));
  for (const wanted of [
    'namedprocess_namegroup_cpu_rate', 'namedprocess_namegroup_thread_cpu_rate',
    'namedprocess_namegroup_cpu_rate5m', 'namedprocess_namegroup_thread_cpu_rate5m',
  ]) assert.ok(names.includes(wanted), wanted);
  await waitFor('every rule evaluated without error', 15_000, async () => {
    const groups = (await api('/api/v1/rules?type=record')).groups as typeof ruleGroups;
    return groups.every((g) => g.rules.every((r) => r.health === 'ok')) ? true : undefined;
  });
});

test(`namedprocess_namegroup_cpu_rate of the workload's group is within ${TOLERANCE * 100}% of its real CPU rate`, { skip }, async () => {
  const selector = `{groupname="${group}"}`;
  // the first recorded value, then WINDOW_S seconds of them
  const first = await waitFor('the first recorded cpu_rate of the group', 30_000, async () => {
    const r = await query(`namedprocess_namegroup_cpu_rate${selector}`);
    return r[0] ? Number(r[0].value[0]) : undefined;
  });
  await sleep((WINDOW_S + 2) * 1000);
  // a whole second, a little in the past, so the recorded series and the real samples cover it
  const end = Math.floor(Date.now() / 1000) - 1;
  const start = end - WINDOW_S;
  assert.ok(start >= first, 'the window lies after the first recorded value');

  const real = (realCpuAt(end) - realCpuAt(start)) / WINDOW_S;
  // the workload really burnt about what it aims at, or the comparison proves little
  assert.ok(real > TARGET * 0.5 && real < TARGET * 1.5, `real CPU rate ${real.toFixed(3)}`);

  const range = `[${WINDOW_S}s]`;
  const [avg] = await query(`avg_over_time(namedprocess_namegroup_cpu_rate${selector}${range})`, end);
  const [count] = await query(`count_over_time(namedprocess_namegroup_cpu_rate${selector}${range})`, end);
  const [threads] = await query(`avg_over_time((sum without(threadname) (namedprocess_namegroup_thread_cpu_rate${selector}))[${WINDOW_S}s:1s])`, end);
  const [rate5m] = await query(`namedprocess_namegroup_cpu_rate5m${selector}`, end);
  assert.ok(avg && count && threads && rate5m, 'all recorded series present');
  const recorded = Number(avg.value[1]);
  const recordedThreads = Number(threads.value[1]);
  const detail =
    `real ${real.toFixed(4)} cores; recorded cpu_rate avg ${recorded.toFixed(4)} over ${count.value[1]} evaluations, ` +
    `thread_cpu_rate summed ${recordedThreads.toFixed(4)}, cpu_rate5m ${Number(rate5m.value[1]).toFixed(4)}`;
  process.stdout.write(`# e2e: ${detail}\n`);

  // one rule evaluation a second, each with a value (irate found its two samples every time)
  assert.ok(Number(count.value[1]) >= WINDOW_S - 2, detail);
  assert.ok(Math.abs(recorded - real) <= TOLERANCE * real, detail);
  assert.ok(Math.abs(recordedThreads - real) <= TOLERANCE * real, detail);
  // rate over 5m divides by the whole 5 minutes: a series younger than that reads low, never high
  assert.ok(Number(rate5m.value[1]) > 0 && Number(rate5m.value[1]) <= real * (1 + TOLERANCE), detail);
});

test('the host sums and every Grafana dashboard query work against the live server', { skip }, async () => {
  const metrics = await (await fetch(`${exporterUrl}/metrics`)).text();
  const hasPsi = /^namedprocess_namegroup_pressure_waiting_seconds_total\{/m.test(metrics);
  const [nonPod] = await query('instance:namedprocess_nonpod_cpu:rate5m');
  const [pod] = await query('instance:namedprocess_pod_cpu:rate5m');
  assert.ok(nonPod && Number(nonPod.value[1]) > 0, 'non-pod CPU: the workload is not a pod');
  assert.equal(pod?.value[1], '0', 'pod CPU is 0, not absent, on a host without pods');

  const mustHaveData = [/CPU by group/, /Non-pod vs pod/, /Coverage/, /Threads by group/, /Top 15 threads/, /Resident memory/];
  if (hasPsi) mustHaveData.push(/waited/);
  else process.stdout.write('# e2e: the exporter exports no PSI here (no cgroup2 pressure files): PSI panels checked for errors only\n');
  for (const q of dashboardQueries('1m')) {
    const result = await query(q.expr);
    if (mustHaveData.some((re) => re.test(q.panel))) assert.ok(result.length > 0, `${q.panel} (${q.refId}): no data for ${q.expr}`);
  }
});
