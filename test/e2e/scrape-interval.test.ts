/**
 * No scraper is handed the same collection twice, at any scrape interval, while two scrapers
 * within -collect.min-interval (default 5 s) still cost one walk: a real Prometheus scraping every
 * 2 s records no repeated sample of a busy group, and two scrapers 300 ms apart share each cycle.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { findExecutable } from '../../src/kube/kubectl.js';
import { type ExporterProcess, startExporter, waitFor } from '../helpers/exporter-process.js';
import { find, parseExposition } from '../helpers/exposition.js';
import { namedWorkload } from '../helpers/workload.js';

const prometheusBin = findExecutable('prometheus');
const work = mkdtempSync(join(tmpdir(), 'pgx-interval-'));
const config = join(work, 'config.yaml');
writeFileSync(config, 'process_names:\n  - name: busy\n    comm: [pgx-iv-busy]\n');
const started: ChildProcess[] = [];
after(() => {
  for (const c of started) c.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
});

async function cyclesSeenBy(ex: ExporterProcess, userAgent: string): Promise<number> {
  const r = await ex.scrape('/metrics', { headers: { 'User-Agent': userAgent } });
  assert.equal(r.status, 200);
  return find(parseExposition(r.text), 'procgroup_exporter_collection_cycles_total')[0]?.value ?? NaN;
}

test('two scrapers every 2 s, 300 ms apart: one walk per interval, never the same cycle twice to one scraper', { timeout: 90_000 }, async () => {
  const ex = await startExporter(['-config.path', config]);
  try {
    const a: number[] = [];
    const b: number[] = [];
    for (let round = 0; round < 6; round++) {
      const t = performance.now();
      a.push(await cyclesSeenBy(ex, 'Prometheus/replica-a'));
      await sleep(300);
      b.push(await cyclesSeenBy(ex, 'Prometheus/replica-b'));
      await sleep(Math.max(0, 2000 - (performance.now() - t)));
    }
    for (const seen of [a, b]) {
      for (let i = 1; i < seen.length; i++) assert.ok((seen[i] as number) > (seen[i - 1] as number), `a new cycle at every scrape: ${seen.join(', ')}`);
    }
    assert.deepEqual(b, a, 'the second scraper is handed the cycle the first one started');
    assert.equal((a.at(-1) as number) - (a[0] as number), a.length - 1, 'one walk per round');
  } finally {
    await ex.stop();
  }
});

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('a real Prometheus scraping every 2 s records no repeated sample of a busy group', { skip: prometheusBin ? false : 'prometheus is not installed', timeout: 120_000 }, async () => {
  started.push(spawn(namedWorkload('pgx-iv-busy'), ['busy'], { stdio: 'ignore' }));
  // the default -collect.min-interval (5 s), longer than the scrape interval
  const ex = await startExporter(['-config.path', config]);
  try {
    const promPort = await freePort();
    const promUrl = `http://127.0.0.1:${promPort}`;
    const promConfig = join(work, 'prometheus.yml');
    writeFileSync(promConfig, `global:\n  scrape_interval: 2s\n  scrape_timeout: 2s\nscrape_configs:\n  - job_name: pgx\n    static_configs:\n      - targets: ['127.0.0.1:${ex.port}']\n`);
    const prom = spawn(prometheusBin as string, [`--config.file=${promConfig}`, `--storage.tsdb.path=${join(work, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`], { stdio: 'ignore' });
    started.push(prom);
    await waitFor('prometheus ready', async () => ((await fetch(`${promUrl}/-/ready`).catch(() => undefined))?.ok ? true : undefined), 30_000);
    await sleep(24_000);
    const range = async (expr: string): Promise<number[]> => {
      const r = (await (await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expr)}`)).json()) as { data: { result: { values: [number, string][] }[] } };
      return (r.data.result[0]?.values ?? []).map(([, v]) => Number(v));
    };
    const cycles = await range('procgroup_exporter_collection_cycles_total[20s]');
    const raw = await range('namedprocess_namegroup_cpu_seconds_total{groupname="busy",mode="user"}[20s]');
    console.log(`cycles ${cycles.join(' ')}\nbusy user CPU ${raw.join(' ')}`);
    assert.ok(cycles.length >= 8, `${cycles.length} scrapes in 20 s`);
    for (const series of [cycles, raw]) {
      for (let i = 1; i < series.length; i++) assert.ok((series[i] as number) > (series[i - 1] as number), `no repeated sample: ${series.join(', ')}`);
    }
  } finally {
    await ex.stop();
  }
});
