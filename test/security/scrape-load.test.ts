/**
 * Attack: exhaust memory with scrapes. 1,000 concurrent scrapes (from 100 addresses), then 100
 * clients that read the answer at 512 B/s. The exposition is rendered once per cycle and format
 * and shared, at most -web.max-requests (40) scrapes are in progress (503 beyond, at once), and a
 * reader slower than -web.write-timeout is cut off: the exporter's RSS stays within 64 MB of idle.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { test } from 'node:test';
import { type ExporterProcess, startExporter } from '../helpers/exporter-process.js';

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

test('100 clients reading at 512 B/s: a scraper from elsewhere is still served; RSS within 64 MB of idle', { timeout: 180_000 }, async () => {
  const ex = await startExporter(['-collect.min-interval', '5s', '-web.write-timeout', '3s']);
  const sockets: net.Socket[] = [];
  const timers: NodeJS.Timeout[] = [];
  try {
    const idle = await warmIdle(ex);
    const peak = rssPeak(ex.pid);
    let closed = 0;
    for (let i = 0; i < 100; i++) {
      const s = net.connect({ host: '127.0.0.1', port: ex.port, localAddress: `127.0.3.${i + 1}` });
      s.on('error', () => {});
      s.once('close', () => closed++);
      s.write('GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n');
      s.pause();
      // 512 bytes a second, as a throttled reader
      timers.push(setInterval(() => s.read(512), 1000));
      sockets.push(s);
    }
    await new Promise((r) => setTimeout(r, 1000));
    // Prometheus, from its own address, within the write timeout plus one scrape
    const t0 = performance.now();
    let legit = await scrape(ex.port, '127.0.4.1');
    while (legit.status !== 200 && performance.now() - t0 < 10_000) {
      await new Promise((r) => setTimeout(r, 500));
      legit = await scrape(ex.port, '127.0.4.1');
    }
    const waited = performance.now() - t0;
    await new Promise((r) => setTimeout(r, 3000));
    const top = peak.stop();
    console.log(`idle RSS ${(idle / MB).toFixed(1)} MB, peak ${(top / MB).toFixed(1)} MB (+${((top - idle) / MB).toFixed(1)}); a scraper from elsewhere served after ${waited.toFixed(0)} ms; ${closed} of 100 slow readers disconnected`);
    assert.equal(legit.status, 200, 'the slow readers do not lock out a real scraper');
    assert.ok(top - idle < 64 * MB, `RSS grew ${((top - idle) / MB).toFixed(1)} MB`);
  } finally {
    for (const t of timers) clearInterval(t);
    for (const s of sockets) s.destroy();
    await ex.stop();
  }
});
