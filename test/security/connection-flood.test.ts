/**
 * Attack: take every connection slot. 300 slowloris sockets (headers sent a few bytes at a time)
 * or 300 TLS sockets that never send a byte from one address, plus as many again spread over 100
 * addresses, while a prober from another address (the kubelet) asks for /health on a fresh
 * connection every 40 ms: every probe answers and the p99 stays under 50 ms.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import { after, before, test } from 'node:test';
import { startExporter } from '../helpers/exporter-process.js';
import { percentile, probeSeries } from '../helpers/health-probe.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { startFlood } from '../helpers/socket-flood.js';

const PER_ATTACK = 300;
let pki: Pki;
before(() => {
  pki = makePki();
});
after(() => pki.cleanup());

async function underAttack(args: string[], url: (port: number) => string, mode: 'slowloris' | 'idle', secureContext?: SecureContext) {
  const ex = await startExporter(args);
  // the same probes before the attack: what this machine's load alone costs (printed, not asserted)
  const quiet = await probeSeries(url(ex.port), 100, 30, { localAddress: '127.0.0.2', secureContext });
  console.log(`before the attack: /health p99 ${percentile(quiet.latencies, 99).toFixed(1)} ms`);
  const sources = [...Array<string>(PER_ATTACK).fill('127.0.0.1'), ...Array.from({ length: PER_ATTACK }, (_, i) => `127.0.1.${(i % 100) + 1}`)];
  const attack = await startFlood({ port: ex.port, sources, mode });
  try {
    await new Promise((r) => setTimeout(r, 1000));
    const health = await probeSeries(url(ex.port), 100, 30, { localAddress: '127.0.0.2', secureContext });
    return { health, stillOpen: await attack.open() };
  } finally {
    attack.stop();
    await ex.stop();
  }
}

test(`/health answers (p99 < 50 ms) during ${PER_ATTACK}+${PER_ATTACK} slowloris sockets`, { timeout: 120_000 }, async () => {
  const { health, stillOpen } = await underAttack(['-collect.min-interval', '0s'], (port) => `http://127.0.0.1:${port}/health`, 'slowloris');
  const p99 = percentile(health.latencies, 99);
  console.log(`slowloris: ${stillOpen} of ${PER_ATTACK * 2} attack sockets still open; /health p99 ${p99.toFixed(1)} ms, ${health.failures} failed of ${health.latencies.length}`);
  assert.equal(health.failures, 0);
  assert.ok(p99 < 50, `/health p99 ${p99.toFixed(1)} ms`);
});

test(`/health over TLS answers (p99 < 50 ms) during ${PER_ATTACK}+${PER_ATTACK} idle TLS sockets`, { timeout: 120_000 }, async () => {
  const server = pki.issue('server', { cn: '127.0.0.1', san: 'IP:127.0.0.1', usage: 'serverAuth' });
  const web = join(pki.dir, 'web.yml');
  writeFileSync(web, `tls_server_config:\n  cert_file: ${server.cert}\n  key_file: ${server.key}\n`);
  try {
    const { health, stillOpen } = await underAttack(
      ['-collect.min-interval', '0s', '-web.config.file', web],
      (port) => `https://127.0.0.1:${port}/health`,
      'idle',
      createSecureContext({ ca: readFileSync(pki.ca.cert) }),
    );
    const p99 = percentile(health.latencies, 99);
    console.log(`idle TLS: ${stillOpen} of ${PER_ATTACK * 2} attack sockets still open; /health p99 ${p99.toFixed(1)} ms, ${health.failures} failed of ${health.latencies.length}`);
    assert.equal(health.failures, 0);
    assert.ok(p99 < 50, `/health p99 ${p99.toFixed(1)} ms`);
  } finally {
    rmSync(web, { force: true });
  }
});
