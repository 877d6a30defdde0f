/**
 * `procgroup-exporter report` against a real Prometheus server holding backfilled series with
 * chosen CPU rates, in every output format; plus TLS and 401 against a real Prometheus with a
 * web config. Skips with the reason when prometheus/promtool (or openssl, for TLS) are missing.
 *
 * Timeline (k = sample index, samples every 15 s at G + 7 + 15k, G = a whole hour 5 h ago):
 *   hour 2 (report --at G+2h+5s, steps k-1 in [240, 479]):
 *     groups: only the raw counter namedprocess_namegroup_cpu_seconds_total (k 200..479)
 *             -> the recording rule is missing, the report must fall back to the raw expression
 *     pods:   only the recorded series pod:container_cpu_usage:sum (k 200..479)
 *   hour 3 (report --at G+3h+5s, steps k-1 in [480, 719]):
 *     groups: only the recorded series namedprocess_namegroup_cpu_rate (k 480..740)
 *     pods:   only the raw counter container_cpu_usage_seconds_total (k 440..740)
 * The two bases carry different rates, so the figures show which one the report read.
 * Samples sit 7 s after the 15 s evaluation grid and --at 5 s after it, so no sample lies on
 * the edge of a range or lookback window and every window holds exactly 240 steps.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import bcrypt from 'bcryptjs';
import { parse as parseYaml } from 'yaml';
import { backfill, freePort, prometheusMissing, startPrometheus, type PrometheusServer } from './prometheus-server.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const MAIN = path.join(ROOT, 'src/cli/main.ts');

const STEP = 15;
const OFFSET = 7;
const G = Math.floor(Date.now() / 3_600_000) * 3600 - 5 * 3600;
const AT_HOUR2 = String(G + 2 * 3600 + 5);
const AT_HOUR3 = String(G + 3 * 3600 + 5);

// ---------- backfilled data ----------

type Labels = Record<string, string>;
interface Series {
  labels: Labels;
  from: number;
  to: number;
  value(k: number): number;
}

/** Rate `a` before segment `change` (the 15 s between samples change-1 and change), `b` from it on. */
const phases = (change: number, a: number, b: number) => (segment: number) => (segment < change ? a : b);
const constant = (r: number) => () => r;

function counter(labels: Labels, from: number, to: number, rate: (segment: number) => number): Series {
  const values = new Map<number, number>();
  let v = 1000; // far from zero, so rate() never extrapolates to a counter start
  for (let k = from; k <= to; k++) {
    if (k > from) v += rate(k) * STEP;
    values.set(k, v);
  }
  return { labels, from, to, value: (k) => values.get(k) ?? NaN };
}

function gauge(labels: Labels, from: number, to: number, value: (k: number) => number): Series {
  return { labels, from, to, value };
}

function family(name: string, type: 'counter' | 'gauge', series: Series[]): string {
  const sample = type === 'counter' ? `${name}_total` : name;
  const lines = [`# TYPE ${name} ${type}`];
  for (const s of series) {
    const labels = Object.entries(s.labels)
      .map(([k, v]) => `${k}="${v}"`)
      .join(',');
    for (let k = s.from; k <= s.to; k++) lines.push(`${sample}{${labels}} ${s.value(k)} ${G + OFFSET + STEP * k}`);
  }
  return lines.join('\n');
}

// groups named <namespace>/<pod>/<container> come from config/examples/openshift-containers.yaml,
// which labels every group with a class (host | infra | workload): these are pods, not host groups
const exporterJob = (groupname: string, instance: string) => ({
  groupname,
  instance,
  job: 'procgroup-exporter',
  namespace: 'procgroup-exporter',
  ...(groupname.includes('/') ? { class: groupname.startsWith('openshift-') ? 'infra' : 'workload' } : {}),
});

/** Hour 2 groups: raw counters, user and system mode each carrying half the rate. */
const HOUR2_GROUP_RATES: Array<[string, string, (segment: number) => number]> = [
  ['kubelet', 'node-a:9256', phases(360, 0.5, 1.5)],
  ['crio', 'node-a:9256', constant(0.75)],
  ['systemd', 'node-b:9256', phases(360, 0.125, 2)],
  ['conmon', 'node-a:9256', constant(3)],
  ['procgroup-exporter', 'node-a:9256', constant(0.25)],
  ['app/web-1/web', 'node-c:9256', constant(0.5)],
  ['openshift-etcd/etcd-master-0/etcd', 'node-c:9256', constant(1)],
];
/** Hour 3 groups: recorded series namedprocess_namegroup_cpu_rate. */
const HOUR3_GROUP_RATES: Array<[string, string, (k: number) => number]> = [
  ['kubelet', 'node-a:9256', phases(600, 1.25, 0.25)],
  ['crio', 'node-a:9256', constant(0.5)],
  ['systemd', 'node-b:9256', phases(600, 0.375, 0.625)],
  ['conmon', 'node-a:9256', constant(3)],
  ['procgroup-exporter', 'node-a:9256', constant(0.25)],
  ['app/web-1/web', 'node-c:9256', constant(0.5)],
  ['openshift-etcd/etcd-master-0/etcd', 'node-c:9256', constant(1)],
];
/** Hour 2 pods: recorded series pod:container_cpu_usage:sum. */
const HOUR2_POD_RATES: Array<[string, string, (k: number) => number]> = [
  ['openshift-etcd', 'etcd-master-0', phases(360, 0.25, 1.75)],
  ['openshift-apiserver', 'apiserver-abc', constant(1.25)],
  ['app', 'web-1', phases(360, 1, 0.5)],
  // contains the exporter's name but does not start with it: the anchored default keeps it
  ['app', 'my-procgroup-exporter-check', constant(0.0625)],
  ['perf-test', 'stress-0', constant(4)],
  ['procgroup-exporter', 'procgroup-exporter-x7k2p', constant(0.5)],
];
/**
 * Hour 3 pods: cAdvisor counters per container. The change sits at segment 591 = first step
 * (481) + 110, so a 5m rate (19 segments) ramps over 18 steps placed symmetrically in the
 * hour: 111 steps at the old rate, 18 mixed, 111 at the new one, and the average is (a+b)/2.
 */
const HOUR3_CONTAINER_RATES: Array<[string, string, string, (segment: number) => number]> = [
  ['openshift-etcd', 'etcd-master-0', 'etcd', phases(591, 0.25, 0.75)],
  ['openshift-etcd', 'etcd-master-0', 'etcd-metrics', constant(0.125)],
  // the pod-level cgroup (container="") repeats its containers' usage; the expression drops it
  ['openshift-etcd', 'etcd-master-0', '', constant(5)],
  ['app', 'web-1', 'web', constant(0.5)],
  ['perf-test', 'stress-0', 'stress', constant(4)],
  ['procgroup-exporter', 'procgroup-exporter-x7k2p', 'procgroup-exporter', constant(0.5)],
];

function openMetrics(): string {
  const groupCounters = HOUR2_GROUP_RATES.flatMap(([g, inst, rate]) =>
    ['user', 'system'].map((mode) => counter({ ...exporterJob(g, inst), mode }, 200, 479, (i) => rate(i) / 2)),
  );
  const groupRule = HOUR3_GROUP_RATES.map(([g, inst, v]) => gauge(exporterJob(g, inst), 480, 740, v));
  const podRule = HOUR2_POD_RATES.map(([namespace, pod, v]) => gauge({ namespace, pod }, 200, 479, v));
  const containerCounters = HOUR3_CONTAINER_RATES.map(([namespace, pod, container, rate]) =>
    counter({ namespace, pod, container, job: 'kubelet', instance: 'node-a:10250' }, 440, 740, rate),
  );
  return [
    family('namedprocess_namegroup_cpu_seconds', 'counter', groupCounters),
    family('namedprocess_namegroup_cpu_rate', 'gauge', groupRule),
    family('pod:container_cpu_usage:sum', 'gauge', podRule),
    family('container_cpu_usage_seconds', 'counter', containerCounters),
    '# EOF\n',
  ].join('\n');
}

// ---------- expected rows (worked out from the rates above) ----------

interface Row {
  kind: string;
  namespace?: string;
  name: string;
  instance?: string;
  avg: number;
  min: number;
  max: number;
}
const group = (name: string, instance: string, avg: number, min: number, max: number): Row => ({
  kind: 'group', name, instance, avg, min, max,
});
const pod = (namespace: string, name: string, avg: number, min: number, max: number): Row => ({
  kind: 'pod', namespace, name, avg, min, max,
});
const total = (name: string, avg: number, min: number, max: number): Row => ({ kind: 'total', name, avg, min, max });

// hour 2, groups from the raw counters: half the steps at a, half at b
const H2_GROUPS = {
  systemd: group('systemd', 'node-b:9256', 1.0625, 0.125, 2),
  kubelet: group('kubelet', 'node-a:9256', 1, 0.5, 1.5),
  crio: group('crio', 'node-a:9256', 0.75, 0.75, 0.75),
};
// sum per step: 0.5+0.75+0.125 = 1.375, then 1.5+0.75+2 = 4.25 (conmon, the container groups and
// the exporter left out)
const H2_GROUPS_TOTAL = total('groups', 2.8125, 1.375, 4.25);
const H2_PODS = {
  apiserver: pod('openshift-apiserver', 'apiserver-abc', 1.25, 1.25, 1.25),
  etcd: pod('openshift-etcd', 'etcd-master-0', 1, 0.25, 1.75),
  web: pod('app', 'web-1', 0.75, 0.5, 1),
  check: pod('app', 'my-procgroup-exporter-check', 0.0625, 0.0625, 0.0625),
  stress: pod('perf-test', 'stress-0', 4, 4, 4),
};
// without perf-test: 0.25+1.25+1+0.0625 = 2.5625, then 1.75+1.25+0.5+0.0625 = 3.5625
const H2_PODS_TOTAL = total('pods', 3.0625, 2.5625, 3.5625);

const H2_BY_AVG: Row[] = [
  H2_GROUPS.systemd, H2_GROUPS.kubelet, H2_GROUPS.crio, H2_GROUPS_TOTAL,
  H2_PODS.apiserver, H2_PODS.etcd, H2_PODS.web, H2_PODS.check, H2_PODS_TOTAL,
];

// ---------- running the CLI ----------

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function runReport(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', MAIN, 'report', ...args], { cwd: ROOT }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

function assertOk(r: Run): void {
  assert.equal(r.code, 0, `report failed (${r.code}):\n${r.stderr}`);
}

interface Document {
  at: string;
  range: string;
  unit: string;
  sources: Array<{ source: string; basis: string; expression: string }>;
  rows: Row[];
}

function assertRows(actual: Row[], expected: Row[]): void {
  assert.deepEqual(
    actual.map(({ avg: _a, min: _mi, max: _ma, ...id }) => id),
    expected.map(({ avg: _a, min: _mi, max: _ma, ...id }) => id),
  );
  actual.forEach((row, i) => {
    const want = expected[i]!;
    for (const stat of ['avg', 'min', 'max'] as const) assert.equal(row[stat], want[stat], `${row.name} ${stat}`);
  });
}

function parseCsv(text: string): Row[] {
  const [header, ...lines] = text.trimEnd().split('\n');
  assert.equal(header, 'kind,namespace,name,instance,avg,min,max');
  return lines.map((line) => {
    const [kind = '', namespace = '', name = '', instance = '', avg, min, max] = line.split(',');
    return {
      kind,
      ...(kind === 'pod' ? { namespace } : {}),
      name,
      ...(kind === 'group' ? { instance } : {}),
      avg: Number(avg),
      min: Number(min),
      max: Number(max),
    };
  });
}

// ---------- the tests ----------

const missing = prometheusMissing();
if (missing) console.log(`# skipping report integration tests: ${missing}`);

describe('report against a real Prometheus', { skip: missing }, () => {
  let dir: string;
  let prom: PrometheusServer;
  let url: string;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'report-it-'));
    const dataDir = path.join(dir, 'data');
    await backfill(dir, openMetrics(), dataDir);
    prom = await startPrometheus({ dir, dataDir, evaluationInterval: `${STEP}s` });
    url = `http://127.0.0.1:${prom.port}`;
  });

  after(async () => {
    await prom?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('csv: raw fallback for groups, recording rule for pods, exclusions, totals, sort by avg', async () => {
    const r = await runReport(['--url', url, '--at', AT_HOUR2, '--skip-namespace', 'perf-test']);
    assertOk(r);
    assertRows(parseCsv(r.stdout), H2_BY_AVG);
    // the missing recording rule is named, and what was used instead
    assert.match(r.stderr, /note: groups: the recorded series namedprocess_namegroup_cpu_rate has no samples in the range; computed from the raw counter namedprocess_namegroup_cpu_seconds_total/);
    assert.doesNotMatch(r.stderr, /note: pods/);
  });

  test('json: same figures, how each source was computed', async () => {
    const r = await runReport(['--url', url, '--at', AT_HOUR2, '-S', 'perf-test', '--output', 'json']);
    assertOk(r);
    const doc = JSON.parse(r.stdout) as Document;
    assert.equal(doc.at, new Date(Number(AT_HOUR2) * 1000).toISOString());
    assert.equal(doc.range, '1h');
    assert.equal(doc.unit, 'cores');
    assert.deepEqual(
      doc.sources.map((s) => [s.source, s.basis]),
      [['groups', 'raw'], ['pods', 'rule']],
    );
    assert.match(doc.sources[1]!.expression, /^pod:container_cpu_usage:sum\{pod!~"procgroup-exporter\.\*",namespace!="perf-test"\}$/);
    assertRows(doc.rows, H2_BY_AVG);
  });

  test('yaml: same figures', async () => {
    const r = await runReport(['--url', url, '--at', AT_HOUR2, '-S', 'perf-test', '-o', 'yaml']);
    assertOk(r);
    const doc = parseYaml(r.stdout) as Document;
    assertRows(doc.rows, H2_BY_AVG);
  });

  test('table: aligned columns, figures to the millicore', async () => {
    const r = await runReport(['--url', url, '--at', AT_HOUR2, '-S', 'perf-test', '-o', 'table']);
    assertOk(r);
    const [header = '', ...lines] = r.stdout.trimEnd().split('\n');
    assert.match(header, /^KIND +NAMESPACE +NAME +INSTANCE +AVG +MIN +MAX$/);
    const nameAt = header.search(/\bNAME\b/);
    assert.equal(lines.length, H2_BY_AVG.length);
    lines.forEach((line, i) => {
      const want = H2_BY_AVG[i]!;
      assert.equal(line.length, header.length, `right-aligned numbers: ${line}`);
      assert.equal(line.slice(nameAt).split(' ')[0], want.name, line);
      const cells = line.trim().split(/ +/);
      assert.equal(cells[0], want.kind);
      if (want.namespace) assert.equal(cells[1], want.namespace);
      if (want.instance) assert.equal(cells[2], want.instance);
      assert.deepEqual(cells.slice(-3), [want.avg, want.min, want.max].map((v) => v.toFixed(3)), line);
    });
  });

  test('--sort-by min and max order the rows of each source, largest first', async () => {
    const [byMin, byMax] = await Promise.all(
      ['min', 'max'].map((s) => runReport(['--url', url, '--at', AT_HOUR2, '-S', 'perf-test', '-o', 'json', '--sort-by', s])),
    );
    assertOk(byMin!);
    assertOk(byMax!);
    const names = (r: Run) => (JSON.parse(r.stdout) as Document).rows.map((row) => row.name);
    assert.deepEqual(names(byMin!), [
      'crio', 'kubelet', 'systemd', 'groups',
      'apiserver-abc', 'web-1', 'etcd-master-0', 'my-procgroup-exporter-check', 'pods',
    ]);
    assert.deepEqual(names(byMax!), [
      'systemd', 'kubelet', 'crio', 'groups',
      'etcd-master-0', 'apiserver-abc', 'web-1', 'my-procgroup-exporter-check', 'pods',
    ]);
  });

  test('without --skip-namespace the namespace is in; the exporter pod never is', async () => {
    const r = await runReport(['--url', url, '--at', AT_HOUR2, '-o', 'json', '--source', 'pods']);
    assertOk(r);
    const doc = JSON.parse(r.stdout) as Document;
    assert.deepEqual(doc.sources.map((s) => s.source), ['pods']);
    assertRows(doc.rows, [
      H2_PODS.stress, H2_PODS.apiserver, H2_PODS.etcd, H2_PODS.web, H2_PODS.check,
      total('pods', 7.0625, 6.5625, 7.5625),
    ]);
  });

  test('--exporter-name changes what counts as the exporter', async () => {
    const r = await runReport(['--url', url, '--at', AT_HOUR2, '-o', 'json', '--exporter-name', 'none', '-S', 'perf-test']);
    assertOk(r);
    const rows = (JSON.parse(r.stdout) as Document).rows;
    assert.ok(rows.some((row) => row.kind === 'group' && row.name === 'procgroup-exporter'));
    assert.ok(rows.some((row) => row.kind === 'pod' && row.name === 'procgroup-exporter-x7k2p'));
    assert.ok(!rows.some((row) => row.name === 'conmon'), 'conmon stays out');
    assert.ok(!rows.some((row) => row.name.includes('/')), 'container groups (class infra/workload) stay out: pods are counted once');
  });

  test('--range 30m covers only the second half of hour 2', async () => {
    const r = await runReport(['--url', url, '--at', AT_HOUR2, '--range', '30m', '-o', 'json', '--source', 'groups']);
    assertOk(r);
    assertRows((JSON.parse(r.stdout) as Document).rows, [
      group('systemd', 'node-b:9256', 2, 2, 2),
      group('kubelet', 'node-a:9256', 1.5, 1.5, 1.5),
      group('crio', 'node-a:9256', 0.75, 0.75, 0.75),
      total('groups', 4.25, 4.25, 4.25),
    ]);
  });

  test('hour 3: recording rule for groups, raw cAdvisor counters for pods', async () => {
    const r = await runReport(['--url', url, '--at', AT_HOUR3, '-S', 'perf-test', '-o', 'json']);
    assertOk(r);
    const doc = JSON.parse(r.stdout) as Document;
    assert.deepEqual(
      doc.sources.map((s) => [s.source, s.basis]),
      [['groups', 'rule'], ['pods', 'raw']],
    );
    assert.match(r.stderr, /note: pods: the recorded series pod:container_cpu_usage:sum has no samples in the range; computed from the raw counter container_cpu_usage_seconds_total/);
    assertRows(doc.rows.slice(0, 4), [
      group('kubelet', 'node-a:9256', 0.75, 0.25, 1.25),
      group('crio', 'node-a:9256', 0.5, 0.5, 0.5),
      group('systemd', 'node-b:9256', 0.5, 0.375, 0.625),
      // 1.25+0.5+0.375 = 2.125, then 0.25+0.5+0.625 = 1.375
      total('groups', 1.75, 1.375, 2.125),
    ]);
    // etcd-master-0: etcd 0.25 -> 0.75 plus etcd-metrics 0.125; its pod-level cgroup is not added
    assertRows(
      doc.rows.slice(4),
      [
        pod('openshift-etcd', 'etcd-master-0', 0.625, 0.375, 0.875),
        pod('app', 'web-1', 0.5, 0.5, 0.5),
        total('pods', 1.125, 0.875, 1.375),
      ],
    );
  });

  test('no data in the range: a clear error, exit 1', async () => {
    const r = await runReport(['--url', url, '--at', String(G + 5)]);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /no data in the 1h before .*: neither the recorded series .* nor the raw counter .* has samples there/);
  });

  test('everything excluded: no data once the exclusions are applied', async () => {
    const r = await runReport(['--url', url, '--at', AT_HOUR2, '--source', 'pods', '--exporter-name', '.*']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /pods: pod:container_cpu_usage:sum\{pod!~"\.\*"\} has no data in the 1h before .* once the exclusions are applied/);
  });

  test('a query Prometheus rejects: its error and the query', async () => {
    const r = await runReport(['--url', url, '--at', AT_HOUR2, '--exporter-name', '(']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Prometheus rejected the query \(400 bad_data\): .*\n {2}query: .*_over_time\(.*!~"\("/);
  });

  test('nothing listening: unreachable, exit 1', async () => {
    const port = await freePort();
    const r = await runReport(['--url', `http://127.0.0.1:${port}`, '--at', AT_HOUR2]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`cannot reach Prometheus at http://127\\.0\\.0\\.1:${port}/api/v1/query: ECONNREFUSED`));
  });
});

const opensslMissing = spawnSync('openssl', ['version'], { stdio: 'ignore' }).status === 0 ? undefined : 'openssl is not installed';
if (!missing && opensslMissing) console.log(`# skipping report TLS/auth tests: ${opensslMissing}`);

describe('report against a real Prometheus with TLS and basic auth', { skip: missing ?? opensslMissing }, () => {
  let dir: string;
  let prom: PrometheusServer;
  let caFile: string;

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'report-auth-'));
    const cert = path.join(dir, 'cert.pem');
    const key = path.join(dir, 'key.pem');
    const r = spawnSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-keyout', key, '-out', cert, '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1',
    ], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    caFile = cert;
    const webConfig =
      `tls_server_config:\n  cert_file: ${cert}\n  key_file: ${key}\n` +
      `basic_auth_users:\n  reporter: ${bcrypt.hashSync('secret', 4)}\n`;
    prom = await startPrometheus({ dir, dataDir: path.join(dir, 'data'), evaluationInterval: '15s', webConfig });
  });

  after(async () => {
    await prom?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('an unknown CA: says to pass --ca-file or --insecure', async () => {
    const r = await runReport(['--url', `https://127.0.0.1:${prom.port}`, '--token', 'x']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /certificate was not accepted: pass --ca-file with the CA that signed it, or --insecure/);
  });

  test('a bare host means https; with --ca-file a refused token is a 401 naming the token', async () => {
    const r = await runReport(['--url', `127.0.0.1:${prom.port}`, '--ca-file', caFile, '--token', 'wrong']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /refused the token \(401 Unauthorized\)/);
  });

  test('--token-file is read; --insecure skips verification; no token asks for one', async () => {
    const tokenFile = path.join(dir, 'token');
    await writeFile(tokenFile, 'wrong\n');
    const [withFile, withoutToken] = await Promise.all([
      runReport(['--url', `https://127.0.0.1:${prom.port}`, '--insecure', '--token-file', tokenFile]),
      runReport(['--url', `https://127.0.0.1:${prom.port}`, '--insecure']),
    ]);
    assert.equal(withFile.code, 1);
    assert.match(withFile.stderr, /refused the token \(401 Unauthorized\)/);
    assert.equal(withoutToken.code, 1);
    assert.match(withoutToken.stderr, /requires authentication \(401 Unauthorized\): pass a bearer token/);
  });
});
