/**
 * Attack: take every connection slot. 300 slowloris sockets (headers sent a few bytes at a time)
 * or 300 TLS sockets that never send a byte from one address, plus as many again spread over 100
 * addresses, while a prober from another address asks for /health on a fresh connection (as the
 * kubelet does: its prober disables keep-alive) every 30 ms, past the 10 s header and handshake
 * timeouts: every probe answers and the p99 stays under 50 ms.
 *
 * The probes alternate between the attacked exporter and an identical one nobody attacks, so both
 * see the same machine load. On a busy machine the unattacked exporter's own p99 is already above
 * 50 ms (75-380 ms for a TLS probe on a 2-core VM at load 15: the prober and the exporter each wait
 * for a CPU at every round trip of the handshake); then the attack may add at most 25 ms to it.
 * With a control p99 under 25 ms (any quiet machine), that is exactly the 50 ms limit.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSecureContext, type SecureContext } from 'node:tls';
import { after, before, test } from 'node:test';
import { startExporter } from '../helpers/exporter-process.js';
import { percentile, probeAlternating, probeOnce, probeSeries, type ProbeResult } from '../helpers/health-probe.js';
import { makePki, type Pki } from '../helpers/pki.js';
import { startFlood } from '../helpers/socket-flood.js';

const PER_ATTACK = 300;
const LIMIT_MS = 50;
/** what the attack may add to the control's p99 when the machine alone misses the limit */
const ADDED_MS = 25;
let pki: Pki;
before(() => {
  pki = makePki();
});
after(() => pki.cleanup());

async function underAttack(args: string[], url: (port: number) => string, mode: 'slowloris' | 'idle', secureContext?: SecureContext) {
  const [ex, control] = await Promise.all([startExporter(args), startExporter(args)]);
  const opts = { localAddress: '127.0.0.2', secureContext };
  const sources = [...Array<string>(PER_ATTACK).fill('127.0.0.1'), ...Array.from({ length: PER_ATTACK }, (_, i) => `127.0.1.${(i % 100) + 1}`)];
  try {
    // the start-up walk over (a scrape joins it; no scrape runs later), and the first handshakes
    // and requests compiled: not what the attack costs
    for (const e of [ex, control]) {
      assert.ok((await probeOnce(url(e.port).replace('/health', '/metrics'), { ...opts, timeoutMs: 60_000 })) < Infinity);
      await probeSeries(url(e.port), 20, 10, opts);
    }
    const attack = await startFlood({ port: ex.port, sources, mode });
    try {
      await new Promise((r) => setTimeout(r, 1000));
      // 350 rounds of at least 30 ms: past the 10 s header and handshake timeouts, whose mass closes are part of the attack
      const [health, quiet] = (await probeAlternating([url(ex.port), url(control.port)], 350, 30, opts)) as [ProbeResult, ProbeResult];
      return { health, quiet, stillOpen: await attack.open() };
    } finally {
      attack.stop();
    }
  } finally {
    await Promise.all([ex.stop(), control.stop()]);
  }
}

function check(what: string, r: Awaited<ReturnType<typeof underAttack>>): void {
  const p99 = percentile(r.health.latencies, 99);
  const control = percentile(r.quiet.latencies, 99);
  const bound = Math.max(LIMIT_MS, control + ADDED_MS);
  console.log(
    `${what}: ${r.stillOpen} of ${PER_ATTACK * 2} attack sockets still open at the end; /health p99 ${p99.toFixed(1)} ms ` +
      `(p50 ${percentile(r.health.latencies, 50).toFixed(1)}), ${r.health.failures} failed of ${r.health.latencies.length}; ` +
      `unattacked control p99 ${control.toFixed(1)} ms (p50 ${percentile(r.quiet.latencies, 50).toFixed(1)}); bound ${bound.toFixed(1)} ms`,
  );
  assert.equal(r.health.failures, 0);
  assert.ok(p99 < bound, `/health p99 ${p99.toFixed(1)} ms under attack, ${control.toFixed(1)} ms without`);
}

test(`/health answers (p99 < 50 ms, or +25 ms over an unattacked exporter on a busy machine) during ${PER_ATTACK}+${PER_ATTACK} slowloris sockets`, { timeout: 120_000 }, async () => {
  check('slowloris', await underAttack(['-collect.min-interval', '0s'], (port) => `http://127.0.0.1:${port}/health`, 'slowloris'));
});

test(`/health over TLS answers (p99 < 50 ms, or +25 ms over an unattacked exporter on a busy machine) during ${PER_ATTACK}+${PER_ATTACK} idle TLS sockets`, { timeout: 120_000 }, async () => {
  const server = pki.issue('server', { cn: '127.0.0.1', san: 'IP:127.0.0.1', usage: 'serverAuth' });
  const web = join(pki.dir, 'web.yml');
  writeFileSync(web, `tls_server_config:\n  cert_file: ${server.cert}\n  key_file: ${server.key}\n`);
  try {
    check(
      'idle TLS',
      await underAttack(['-collect.min-interval', '0s', '-web.config.file', web], (port) => `https://127.0.0.1:${port}/health`, 'idle', createSecureContext({ ca: readFileSync(pki.ca.cert) })),
    );
  } finally {
    rmSync(web, { force: true });
  }
});
