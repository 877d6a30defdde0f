/**
 * Attack: exhaust memory with scrapes. 1,000 concurrent scrapes (from 100 addresses), then 100
 * clients that read a 5 MB answer at 512 B/s. The exposition is rendered once per cycle and format
 * and shared, at most -web.max-requests (40) scrapes are in progress (503 beyond, at once), and a
 * reader slower than -web.write-timeout is cut off: the exporter's RSS stays within 64 MB of idle.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { type ExporterProcess, startExporter } from '../helpers/exporter-process.js';
import { percentile, probeOnce } from '../helpers/health-probe.js';
import { tcpSockets } from '../helpers/tcp-table.js';
import { namedWorkload, sleep } from '../helpers/workload.js';

const MB = 1 << 20;

function rssOf(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1]) * 1024;
}

/** Samples the exporter's RSS every 20 ms until stopped; returns the peak. */
function rssPeak(pid: number): { stop(): number } {
  let peak = rssOf(pid);
  const timer = setInterval(() => (peak = Math.max(peak, rssOf(pid))), 20);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(peak, rssOf(pid));
    },
  };
}

async function warmIdle(ex: ExporterProcess): Promise<number> {
  // a few scrapes of every format fill the caches a normal scrape needs
  const variants: Record<string, string>[] = [{}, { 'Accept-Encoding': 'gzip' }, { Accept: 'application/openmetrics-text' }, {}];
  for (const headers of variants) {
    assert.equal((await ex.scrape('/metrics', { headers })).status, 200);
  }
  await new Promise((r) => setTimeout(r, 500));
  return rssOf(ex.pid);
}

function scrape(port: number, localAddress: string): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/metrics', localAddress, agent: false, timeout: 60_000 }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on('error', () => resolve({ status: -1, bytes }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve({ status: -1, bytes: 0 }));
  });
}

test('1,000 concurrent scrapes: RSS within 64 MB of idle, 503 beyond -web.max-requests', { timeout: 180_000 }, async () => {
  // the default config: every process on this host grouped, threads on (a few hundred KB)
  const ex = await startExporter(['-collect.min-interval', '5s']);
  try {
    const idle = await warmIdle(ex);
    const size = (await ex.scrape()).text.length;
    const peak = rssPeak(ex.pid);
    const t0 = performance.now();
    let first503 = Infinity;
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        scrape(ex.port, `127.0.2.${(i % 100) + 1}`).then((r) => {
          if (r.status === 503) first503 = Math.min(first503, performance.now() - t0);
          return r;
        }),
      ),
    );
    const top = peak.stop();
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 503).length;
    console.log(`exposition ${(size / 1024).toFixed(0)} KB; idle RSS ${(idle / MB).toFixed(1)} MB, peak ${(top / MB).toFixed(1)} MB (+${((top - idle) / MB).toFixed(1)}); ${ok.length} x 200, ${refused} x 503, ${1000 - ok.length - refused} connections closed; first 503 after ${first503.toFixed(0)} ms`);
    // the rest were closed to keep the connection count at 256 (see connection-guard.ts)
    assert.ok(ok.length >= 40 && refused > 0, 'some served, the rest refused');
    assert.ok(ok.every((r) => r.bytes > 0));
    assert.ok(top - idle < 64 * MB, `RSS grew ${((top - idle) / MB).toFixed(1)} MB`);
  } finally {
    await ex.stop();
  }
});

const WRITE_TIMEOUT_MS = 3000;
const READERS = 100;
const PADDED = 40;

/**
 * A multi-MB exposition from real processes: 40 sleeping processes whose argv carries a distinct
 * 1 KiB word, one group each named by it and labelled with it three times (labels are capped at
 * 1 KiB), so each of a group's ~32 series is ~4 KB. Far more than the socket buffers of 40
 * connections hold (loopback starts at 16 KB send + 128 KB receive per socket and grows only as the
 * reader reads), so a slow reader keeps the write unfinished.
 */
async function bigExposition(): Promise<{ args: string[]; cleanup(): void }> {
  const kids = Array.from({ length: PADDED }, (_, i) =>
    spawn(namedWorkload('pgx-bigexpo'), ['threads', '1', `${i}-${'x'.repeat(1000)}`], { stdio: 'ignore' }),
  );
  const config = join(tmpdir(), `pgx-bigexpo-${process.pid}.yaml`);
  writeFileSync(
    config,
    'process_names:\n  - name: "{{.Matches.Pad}}"\n    comm: [pgx-bigexpo]\n    cmdline: [\'^\\S+ threads 1 (?P<Pad>\\S+)$\']\n' +
      '    labels: {a: "{{.Matches.Pad}}", b: "{{.Matches.Pad}}", c: "{{.Matches.Pad}}"}\n',
  );
  await sleep(300);
  return {
    args: ['-config.path', config],
    cleanup: () => {
      for (const k of kids) k.kill('SIGKILL');
      rmSync(config, { force: true });
    },
  };
}

interface SlowReader {
  socket: net.Socket;
  address: string;
  sentAt: number;
  /** status code from the first bytes read; 0 before any */
  status: number;
  consumed: number;
  /** when the exporter's side of the connection was gone (neither held nor orphaned) */
  droppedAt: number | undefined;
}

test(`${READERS} clients reading a 5 MB answer at 512 B/s are cut off after -web.write-timeout; /health answers; RSS within 64 MB of idle`, { timeout: 180_000 }, async () => {
  const workload = await bigExposition();
  const ex = await startExporter(['-collect.min-interval', '5s', '-web.write-timeout', `${WRITE_TIMEOUT_MS}ms`, ...workload.args]);
  const readers: SlowReader[] = [];
  const timers: NodeJS.Timeout[] = [];
  try {
    const idle = await warmIdle(ex);
    const size = Buffer.byteLength((await ex.scrape()).text);
    assert.ok(size > 4 * MB, `the exposition is ${(size / MB).toFixed(1)} MB`);
    const peak = rssPeak(ex.pid);
    for (let i = 0; i < READERS; i++) {
      const address = `127.0.3.${i + 1}`;
      const socket = net.connect({ host: '127.0.0.1', port: ex.port, localAddress: address });
      const r: SlowReader = { socket, address, sentAt: performance.now(), status: 0, consumed: 0, droppedAt: undefined };
      socket.on('error', () => {});
      socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
      socket.pause();
      // 512 bytes a second, as a throttled reader
      timers.push(
        setInterval(() => {
          // (a 503 answer is shorter than 512 bytes: take what there is)
          const chunk = (socket.read(512) ?? socket.read()) as Buffer | null;
          if (!chunk) return;
          if (r.consumed === 0) r.status = Number(/^HTTP\/1\.1 (\d{3})/.exec(chunk.toString('latin1'))?.[1] ?? -1);
          r.consumed += chunk.length;
        }, 1000),
      );
      readers.push(r);
    }
    // the exporter's side of each reader's connection, from the kernel's table: a dropped reader
    // leaves nothing behind (no orphaned socket still holding the unsent answer)
    const watch = setInterval(() => {
      const open = new Set(tcpSockets().filter((s) => s.localPort === ex.port).map((s) => s.remote));
      for (const r of readers) if (r.droppedAt === undefined && !open.has(r.address)) r.droppedAt = performance.now();
    }, 100);
    // the kubelet's probe, from its own address, all along. Asserted: every probe answered (not
    // refused, dropped or left hanging); the latency is printed, not asserted: rendering a 5 MB
    // exposition holds the event loop for 0.1-0.8 s on a loaded 2-core VM, attack or not
    const health: number[] = [];
    const until = performance.now() + WRITE_TIMEOUT_MS + 9000;
    while (performance.now() < until) {
      health.push(await probeOnce(`${ex.url}/health`, { localAddress: '127.0.0.2', timeoutMs: 5000 }));
      await sleep(100);
    }
    clearInterval(watch);
    // Prometheus, from its own address, once the slow readers are gone
    const legit = await scrape(ex.port, '127.0.4.1');
    const top = peak.stop();

    const served = readers.filter((r) => r.status === 200);
    const refused = readers.filter((r) => r.status === 503);
    const dropped = readers.filter((r) => r.droppedAt !== undefined);
    const after = dropped.map((r) => ((r.droppedAt as number) - r.sentAt) / 1000).sort((a, b) => a - b);
    const held = tcpSockets().filter((s) => s.localPort === ex.port && s.inode !== 0 && s.remote.startsWith('127.0.3.')).length;
    console.log(
      `exposition ${(size / MB).toFixed(1)} MB; ${served.length} slow readers got 200, ${refused.length} got 503; ` +
        `${dropped.length} disconnected, ${after[0]?.toFixed(1)}-${after.at(-1)?.toFixed(1)} s after asking (write timeout ${WRITE_TIMEOUT_MS / 1000} s); ` +
        `${held} still held; idle RSS ${(idle / MB).toFixed(1)} MB, peak ${(top / MB).toFixed(1)} MB (+${((top - idle) / MB).toFixed(1)}); ` +
        `/health ${health.length} probes, p99 ${percentile(health, 99).toFixed(1)} ms, ${health.filter((l) => l === Infinity).length} failed`,
    );
    assert.ok(served.length >= 1 && served.length <= 40, `${served.length} served (at most -web.max-requests)`);
    assert.equal(served.length + refused.length, READERS, 'every reader got an answer');
    for (const r of served) {
      assert.ok(r.droppedAt !== undefined, `${r.address} (200, ${r.consumed} bytes read) still connected`);
      const s = (r.droppedAt - r.sentAt) / 1000;
      // the write timeout runs from when the answer was ready: never sooner, and soon after
      assert.ok(s >= (WRITE_TIMEOUT_MS / 1000) * 0.9 && s < WRITE_TIMEOUT_MS / 1000 + 6, `${r.address} dropped after ${s.toFixed(1)} s`);
      assert.ok(r.consumed < size, 'cut off before the end');
    }
    // an answered 503 is read at once: not a slow reader, its keep-alive connection stays
    assert.ok(refused.every((r) => r.droppedAt === undefined));
    assert.equal(health.filter((l) => l === Infinity).length, 0, '/health answered every probe');
    assert.equal(legit.status, 200, 'the slow readers do not lock out a real scraper');
    assert.ok(legit.bytes > 4 * MB, `${legit.bytes} bytes`);
    assert.ok(top - idle < 64 * MB, `RSS grew ${((top - idle) / MB).toFixed(1)} MB`);
  } finally {
    for (const t of timers) clearInterval(t);
    for (const r of readers) r.socket.destroy();
    await ex.stop();
    workload.cleanup();
  }
});
