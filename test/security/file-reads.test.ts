/**
 * Attack: make the running exporter read huge files or files that change all the time. Reloads
 * (SIGHUP and POST /-/reload) of a 10 MB config every 100 ms, and certificates rotated every
 * 100 ms (each new connection re-checks them), while a prober from another address asks for
 * /health every 30 ms: every probe answers, the p99 stays under 50 ms, the 10 MB config is
 * rejected by its size and the last good config is kept, and the rotated certificate is served.
 * Files are checked and read asynchronously (fstat on the open descriptor, at most cap + 1 bytes).
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { createSecureContext } from 'node:tls';
import { after, test } from 'node:test';
import { startExporter } from '../helpers/exporter-process.js';
import { percentile, probeSeries, type ProbeOptions, type ProbeResult } from '../helpers/health-probe.js';
import { makePki } from '../helpers/pki.js';

const PROBES = 60;
const PROBE_EVERY_MS = 30;
const CHANGE_EVERY_MS = 100;

const dir = mkdtempSync(join(tmpdir(), 'pgx-file-reads-'));
const pki = makePki();
after(() => {
  pki.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

/** /health probes before (printed) and while `change` runs every CHANGE_EVERY_MS (asserted) */
async function probedWhile(url: string, opts: ProbeOptions, change: (round: number) => Promise<void> | void): Promise<ProbeResult> {
  const quiet = await probeSeries(url, PROBES, PROBE_EVERY_MS, opts);
  console.log(`before: /health p99 ${percentile(quiet.latencies, 99).toFixed(1)} ms`);
  let probing = true;
  let rounds = 0;
  const changes = (async () => {
    while (probing) {
      await change(rounds++);
      await new Promise((r) => setTimeout(r, CHANGE_EVERY_MS));
    }
  })();
  try {
    return await probeSeries(url, PROBES, PROBE_EVERY_MS, opts);
  } finally {
    probing = false;
    await changes;
    console.log(`${rounds} changes made while probing`);
  }
}

test('/health answers (p99 < 50 ms) while a 10 MB config is reloaded every 100 ms; the last good config stays', { timeout: 120_000 }, async () => {
  const config = join(dir, 'config.yaml');
  writeFileSync(config, 'process_names:\n  - name: everything\n    cmdline: [.+]\n');
  const ex = await startExporter(['-config.path', config, '-web.enable-lifecycle', '-collect.min-interval', '60s']);
  try {
    const big = join(dir, 'big.yaml');
    writeFileSync(big, `# ${'x'.repeat(10 << 20)}\n`);
    renameSync(big, config);
    const statuses: number[] = [];
    const health = await probedWhile(`${ex.url}/health`, { localAddress: '127.0.0.2' }, async (round) => {
      if (round % 2) ex.child.kill('SIGHUP');
      else statuses.push((await ex.scrape('/-/reload', { method: 'POST' })).status);
    });
    const p99 = percentile(health.latencies, 99);
    console.log(`10 MB config reloads: /health p99 ${p99.toFixed(1)} ms, ${health.failures} failed of ${health.latencies.length}`);
    assert.ok(statuses.length > 5 && statuses.every((s) => s === 400), `every POST /-/reload was rejected: ${statuses.join(' ')}`);
    assert.match(ex.log(), /msg="config reload failed, keeping the last good config" file=\S+config\.yaml err=".*cannot read config file: larger than 256 KiB \(10485763 bytes\)/);
    const metrics = await ex.scrape('/metrics', { headers: { 'User-Agent': 'after-reloads' } });
    assert.match(metrics.text, /namedprocess_namegroup_num_procs\{groupname="everything"\} [1-9]/, 'the last good config is in use');
    assert.match(metrics.text, /^procgroup_exporter_config_last_reload_successful 0$/m);
    assert.equal(health.failures, 0);
    assert.ok(p99 < 50, `/health p99 ${p99.toFixed(1)} ms`);
  } finally {
    await ex.stop();
  }
});

test('/health over TLS answers (p99 < 50 ms) while the certificate is rotated every 100 ms; the last one is served', { timeout: 120_000 }, async () => {
  const a = pki.issue('server-a', { cn: '127.0.0.1', san: 'IP:127.0.0.1', usage: 'serverAuth' });
  const b = pki.issue('server-b', { cn: '127.0.0.1', san: 'IP:127.0.0.1', usage: 'serverAuth' });
  const live = { cert: join(dir, 'live.crt'), key: join(dir, 'live.key') };
  copyFileSync(a.cert, live.cert);
  copyFileSync(a.key, live.key);
  const web = join(dir, 'web.yml');
  writeFileSync(web, 'tls_server_config:\n  cert_file: live.crt\n  key_file: live.key\n');
  const ex = await startExporter(['-web.config.file', web, '-collect.min-interval', '60s']);
  const secureContext = createSecureContext({ ca: readFileSync(pki.ca.cert) });
  try {
    let last = a;
    const health = await probedWhile(`https://127.0.0.1:${ex.port}/health`, { localAddress: '127.0.0.2', secureContext }, (round) => {
      last = round % 2 ? a : b;
      pki.install(last, live);
    });
    const p99 = percentile(health.latencies, 99);
    console.log(`certificate rotation: /health p99 ${p99.toFixed(1)} ms, ${health.failures} failed of ${health.latencies.length}`);
    assert.equal(await servedFingerprint(ex.port, secureContext), last.fingerprint256, 'the last installed certificate is served');
    assert.ok((ex.log().match(/msg="web config reloaded"/g) ?? []).length > 5, 'the rotations were picked up');
    assert.equal(health.failures, 0);
    assert.ok(p99 < 50, `/health p99 ${p99.toFixed(1)} ms`);
  } finally {
    await ex.stop();
  }
});

function servedFingerprint(port: number, secureContext: ReturnType<typeof createSecureContext>): Promise<string> {
  return new Promise((resolve, reject) => {
    const options: https.RequestOptions = { host: '127.0.0.1', port, path: '/health', agent: false };
    Object.assign(options, { secureContext });
    const req = https.get(options, (res) => {
      resolve((res.socket as TLSSocket).getPeerCertificate().fingerprint256);
      res.resume();
    });
    req.on('error', reject);
  });
}
