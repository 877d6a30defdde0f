/**
 * The seed's command line, `prom metrics -h HOST -t TOKEN ...`, against a real Prometheus holding
 * backfilled recorded series (promtool tsdb create-blocks-from openmetrics): the seed's shape (rows
 * keyed uniqueId, `avg/min/max over <interval>` columns, column-major JSON and YAML), the figures,
 * the flags, and `report --source all` when one source has no data. Skips with the reason when
 * prometheus/promtool are missing.
 *
 * Timeline (samples every 15 s at G + 7 + 15k, G = a whole hour 5 h ago; queries at a whole hour
 * plus 5 s read samples k in [240, 479] for hour 2 and [480, 719] for hour 3):
 *   namedprocess_namegroup_cpu_rate  k 200..719: crio 0.5, systemd 1.25, kubelet 0.25 then (k >= 360)
 *                                    0.75, conmon 3 and the exporter 0.1 (both always left out)
 *   pod:container_cpu_usage:sum      k 200..479 only: etcd-0 1 then (k >= 300) 2, web-1 0.75,
 *                                    stress-0 4 (namespace perf), the exporter's pod 0.2 (left out)
 * So hour 3 has groups but no pods.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import { backfill, prometheusMissing, startPrometheus, type PrometheusServer } from './prometheus-server.js';

const MAIN = path.resolve(import.meta.dirname, '../../../src/cli/main.ts');
const G = Math.floor(Date.now() / 3_600_000) * 3600 - 5 * 3600;
const HOUR2 = G + 2 * 3600 + 5;
const HOUR3 = G + 3 * 3600 + 5;

type Rate = (k: number) => number;
const GROUPS: Array<[string, string, Rate]> = [
  ['node-a', 'crio', () => 0.5],
  ['node-b', 'systemd', () => 1.25],
  ['node-a', 'kubelet', (k) => (k < 360 ? 0.25 : 0.75)],
  ['node-a', 'conmon', () => 3],
  ['node-a', 'procgroup-exporter', () => 0.1],
];
const PODS: Array<[string, string, Rate]> = [
  ['openshift-etcd', 'etcd-0', (k) => (k < 300 ? 1 : 2)],
  ['app', 'web-1', () => 0.75],
  ['perf', 'stress-0', () => 4],
  ['procgroup-exporter', 'procgroup-exporter-abcde', () => 0.2],
];

function samples(name: string, labels: Record<string, string>, from: number, to: number, rate: Rate): string[] {
  const set = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',');
  return Array.from({ length: to - from + 1 }, (_, i) => `${name}{${set}} ${rate(from + i)} ${G + 7 + 15 * (from + i)}`);
}

function openMetrics(): string {
  return [
    '# TYPE namedprocess_namegroup_cpu_rate gauge',
    ...GROUPS.flatMap(([instance, groupname, r]) => samples('namedprocess_namegroup_cpu_rate', { groupname, instance, job: 'procgroup-exporter' }, 200, 719, r)),
    '# TYPE pod:container_cpu_usage:sum gauge',
    ...PODS.flatMap(([namespace, pod, r]) => samples('pod:container_cpu_usage:sum', { namespace, pod }, 200, 479, r)),
    '# EOF\n',
  ].join('\n');
}

/** uniqueId -> [avg, min, max], in the order the tool prints them */
type Table = Array<[string, number, number, number]>;

// hour 2, worked out from the rates above (etcd-0: 60 steps at 1, 180 at 2)
const ETCD: Table[number] = ['openshift-etcd/etcd-0', 1.75, 1, 2];
const SYSTEMD: Table[number] = ['node-b/systemd', 1.25, 1.25, 1.25];
const WEB: Table[number] = ['app/web-1', 0.75, 0.75, 0.75];
const CRIO: Table[number] = ['node-a/crio', 0.5, 0.5, 0.5];
const KUBELET: Table[number] = ['node-a/kubelet', 0.5, 0.25, 0.75];
const STRESS: Table[number] = ['perf/stress-0', 4, 4, 4];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', MAIN, ...args], { env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

function ok(r: Run): Run {
  assert.equal(r.code, 0, `exit ${r.code}:\n${r.stderr}`);
  return r;
}

function csvTable(text: string, interval = '1h'): Table {
  const [header, ...lines] = text.trimEnd().split('\n');
  assert.equal(header, `uniqueId,avg over ${interval},min over ${interval},max over ${interval}`);
  return lines.map((l) => {
    const [id = '', avg, min, max] = l.split(',');
    return [id, Number(avg), Number(min), Number(max)];
  });
}

/** the seed's JSON/YAML layout: column -> uniqueId -> value, every column over the same rows */
function columnTable(doc: Record<string, Record<string, number>>, interval = '1h'): Table {
  const cols = ['avg', 'min', 'max'].map((s) => `${s} over ${interval}`);
  assert.deepEqual(Object.keys(doc), cols);
  const ids = Object.keys(doc[cols[0]!]!);
  for (const c of cols) assert.deepEqual(Object.keys(doc[c]!), ids, `${c} has the same rows in the same order`);
  return ids.map((id) => [id, doc[cols[0]!]![id]!, doc[cols[1]!]![id]!, doc[cols[2]!]![id]!]);
}

const missing = prometheusMissing();
if (missing) console.log(`# skipping prom metrics integration tests: ${missing}`);

describe('prom metrics against a real Prometheus', { skip: missing }, () => {
  let dir: string;
  let prom: PrometheusServer;
  let host: string;
  // the seed's required flags (the server asks for no token; the client sends it anyway)
  const base = (): string[] => ['prom', 'metrics', '-h', host, '-t', 'sha256~token', '--insecure-token'];

  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'prom-metrics-it-'));
    const dataDir = path.join(dir, 'data');
    await backfill(dir, openMetrics(), dataDir);
    prom = await startPrometheus({ dir, dataDir, evaluationInterval: '15s' });
    host = `http://127.0.0.1:${prom.port}`;
  });

  after(async () => {
    await prom?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('csv: groups and pods in one table keyed uniqueId, sorted by avg, the exporter and conmon left out', async () => {
    const r = ok(await run([...base(), '-T', String(HOUR2), '-S', 'perf']));
    assert.deepEqual(csvTable(r.stdout), [ETCD, SYSTEMD, WEB, CRIO, KUBELET]);
  });

  test('json and yaml: column-major, as the seed prints them', async () => {
    const json = ok(await run([...base(), '-T', String(HOUR2), '-S', 'perf', '-o', 'json']));
    assert.deepEqual(columnTable(JSON.parse(json.stdout)), [ETCD, SYSTEMD, WEB, CRIO, KUBELET]);
    const yaml = ok(await run([...base(), '-T', String(HOUR2), '-S', 'perf', '-o', 'yaml']));
    assert.deepEqual(columnTable(parseYaml(yaml.stdout)), [ETCD, SYSTEMD, WEB, CRIO, KUBELET]);
  });

  test('-T without a zone is UTC, whatever the local zone; --first makes it the start', async () => {
    const utc = new Date(HOUR2 * 1000).toISOString().slice(0, 19); // 2026-...T..:..:05, no zone
    const end = ok(await run([...base(), '-T', utc, '-S', 'perf'], { TZ: 'Asia/Kolkata' }));
    assert.deepEqual(csvTable(end.stdout), [ETCD, SYSTEMD, WEB, CRIO, KUBELET]);
    const startUtc = new Date((HOUR2 - 3600) * 1000).toISOString().slice(0, 19);
    const first = ok(await run([...base(), '-T', startUtc, '--first', '-S', 'perf'], { TZ: 'America/New_York' }));
    assert.deepEqual(csvTable(first.stdout), [ETCD, SYSTEMD, WEB, CRIO, KUBELET]);
    const last = ok(await run([...base(), '-T', startUtc, '--first', '--last', '-S', 'perf']));
    assert.notDeepEqual(csvTable(last.stdout), [ETCD, SYSTEMD, WEB, CRIO, KUBELET], '--last (the later flag) wins');
  });

  test('-s min, --tail, -i 30m, -S as a comma list, and -m housekeeping|infra', async () => {
    const byMin = ok(await run([...base(), '-T', String(HOUR2), '-S', 'perf', '-s', 'min']));
    assert.deepEqual(csvTable(byMin.stdout).map((row) => row[0]), [SYSTEMD, ETCD, WEB, CRIO, KUBELET].map((row) => row[0]));
    const tail = ok(await run([...base(), '-T', String(HOUR2), '-S', 'perf', '--tail']));
    assert.deepEqual(csvTable(tail.stdout), [CRIO, KUBELET, WEB, SYSTEMD, ETCD]);
    // the second half of hour 2: kubelet at 0.75 and etcd-0 at 2 throughout
    const half = ok(await run([...base(), '-T', String(HOUR2), '-i', '30m', '-S', 'perf,app']));
    assert.deepEqual(csvTable(half.stdout, '30m'), [['openshift-etcd/etcd-0', 2, 2, 2], SYSTEMD, ['node-a/kubelet', 0.75, 0.75, 0.75], CRIO]);
    const all = ok(await run([...base(), '-T', String(HOUR2), '-m', 'infra']));
    assert.deepEqual(csvTable(all.stdout), [STRESS, ETCD, WEB]);
    const host = ok(await run([...base(), '-T', String(HOUR2), '-m', 'housekeeping']));
    assert.deepEqual(csvTable(host.stdout), [SYSTEMD, CRIO, KUBELET]);
  });

  test('required flags and bad values: exit 2 with the reason', async () => {
    const noToken = await run(['prom', 'metrics', '-h', host]);
    assert.equal(noToken.code, 2);
    assert.match(noToken.stderr, /-t\/--token \(or --token-file\) is required/);
    const badMode = await run([...base(), '-m', 'pods']);
    assert.equal(badMode.code, 2);
    assert.match(badMode.stderr, /-m\/--mode "pods": must be one of housekeeping, infra/);
  });

  test('one source without data: prom metrics and report print what they have and say what is missing', async () => {
    const p = ok(await run([...base(), '-T', String(HOUR3)]));
    assert.deepEqual(csvTable(p.stdout), [['node-b/systemd', 1.25, 1.25, 1.25], ['node-a/kubelet', 0.75, 0.75, 0.75], ['node-a/crio', 0.5, 0.5, 0.5]]);
    assert.match(p.stderr, /warning: left out: pods: no data in the 1h before /);
    const r = ok(await run(['report', '--url', host, '--at', String(HOUR3), '-o', 'json']));
    const doc = JSON.parse(r.stdout) as { sources: { source: string }[]; missing: { source: string; reason: string }[]; rows: { name: string }[] };
    assert.deepEqual(doc.sources.map((s) => s.source), ['groups']);
    assert.deepEqual(doc.missing.map((m) => m.source), ['pods']);
    assert.deepEqual(doc.rows.map((row) => row.name), ['systemd', 'kubelet', 'crio', 'groups']);
    assert.match(r.stderr, /warning: left out: pods: no data/);
    // nothing at all is still an error
    const none = await run(['report', '--url', host, '--at', String(G + 5)]);
    assert.equal(none.code, 1);
    assert.equal(none.stdout, '');
  });
});
