import assert from 'node:assert/strict';
import http, { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import type Koa from 'koa';
import { createLogger } from '../../../src/log.js';
import { type AppOptions, createApp } from '../../../src/server/app.js';

async function serve(opts: Partial<AppOptions>): Promise<{ url: string; logs: string[]; close(): Promise<void> }> {
  const logs: string[] = [];
  const app: Koa = createApp({
    telemetryPath: '/metrics',
    metrics: async () => ({ id: 1, text: '# HELP up x\n# TYPE up gauge\nup 1\n' }),
    log: createLogger({ level: 'debug', write: (l) => logs.push(l) }),
    version: '0.0.0-test',
    ...opts,
  });
  const server: Server = createServer(app.callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    logs,
    close: () => new Promise((r) => server.close(() => r())),
  };
}

test('a failing handler answers 500 "internal error": no stack, no message, no file content', async () => {
  const secret = 'root:x:0:0:root:/root:/bin/bash';
  const s = await serve({
    metrics: async () => {
      throw new Error(`cannot parse /etc/passwd: got ${JSON.stringify(secret)}`);
    },
  });
  try {
    const r = await fetch(`${s.url}/metrics`);
    assert.equal(r.status, 500);
    assert.equal(await r.text(), 'internal error\n');
    assert.ok(s.logs.some((l) => l.includes('request failed')), 'logged for the operator');
  } finally {
    await s.close();
  }
});

test('404 and 405 bodies are the bare status text', async () => {
  const s = await serve({});
  try {
    const missing = await fetch(`${s.url}/etc/passwd`);
    assert.equal(missing.status, 404);
    assert.equal(await missing.text(), 'Not Found');
    const wrong = await fetch(`${s.url}/metrics`, { method: 'DELETE' });
    assert.equal(wrong.status, 405);
    assert.equal(await wrong.text(), 'Method Not Allowed');
  } finally {
    await s.close();
  }
});

test('a rejected reload answers 400 without echoing the problems, which stay in the log', async () => {
  const s = await serve({ reload: async () => '/etc/pge.yml:3:7: process_names[0].comm: must be a list, got the string "s3cr3t"' });
  try {
    const r = await fetch(`${s.url}/-/reload`, { method: 'POST' });
    assert.equal(r.status, 400);
    const body = await r.text();
    assert.match(body, /^config rejected, keeping the last good one/);
    assert.ok(!body.includes('s3cr3t') && !body.includes('pge.yml'));
  } finally {
    await s.close();
  }
  const ok = await serve({ reload: async () => undefined });
  try {
    const r = await fetch(`${ok.url}/-/reload`, { method: 'POST' });
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'config reloaded\n');
  } finally {
    await ok.close();
  }
});

test('a scrape waiting longer than the collect timeout gets 503; the app stays responsive', async () => {
  let finish: (e: { id: number; text: string }) => void = () => {};
  const stuck = new Promise<{ id: number; text: string }>((r) => (finish = r));
  const s = await serve({ metrics: () => stuck, collectTimeoutMs: 200 });
  try {
    const r = await fetch(`${s.url}/metrics`);
    assert.equal(r.status, 503);
    assert.equal(await r.text(), 'collection timed out\n');
    assert.equal((await fetch(`${s.url}/health`)).status, 200);
    assert.ok(s.logs.some((l) => l.includes('scrape timed out')));
  } finally {
    finish({ id: 1, text: '' });
    await s.close();
  }
});

test('each exposition is rendered once per format and encoding, shared by every request', async () => {
  let calls = 0;
  const text = `# HELP big x\n# TYPE big gauge\n${Array.from({ length: 2000 }, (_, i) => `big{i="${i}"} ${i}`).join('\n')}\n`;
  const s = await serve({ metrics: async () => ({ id: ++calls <= 3 ? 1 : 2, text }) });
  try {
    const gz = { 'Accept-Encoding': 'gzip' };
    const om = { Accept: 'application/openmetrics-text; version=1.0.0', 'Accept-Encoding': 'identity' };
    const raw = async (headers: Record<string, string>) => Buffer.from(await (await fetch(`${s.url}/metrics`, { headers, decompress: false } as RequestInit)).arrayBuffer());
    const [a, b, c] = await Promise.all([raw(gz), raw(gz), raw(om)]);
    assert.ok(a.equals(b));
    assert.ok(!a.equals(c), 'OpenMetrics is its own rendering');
    assert.match(c.toString(), /# EOF\n$/);
  } finally {
    await s.close();
  }
});

test('scrapers are told apart by address, User-Agent and scrape timeout header', async () => {
  const seen: string[] = [];
  const s = await serve({ metrics: async (scraper) => (seen.push(scraper), { id: 1, text: 'up 1\n' }) });
  try {
    await fetch(`${s.url}/metrics`, { headers: { 'User-Agent': 'Prometheus/2.53', 'X-Prometheus-Scrape-Timeout-Seconds': '10' } });
    await fetch(`${s.url}/metrics`, { headers: { 'User-Agent': 'Prometheus/2.53', 'X-Prometheus-Scrape-Timeout-Seconds': '10' } });
    await fetch(`${s.url}/metrics`, { headers: { 'User-Agent': 'Prometheus/2.53', 'X-Prometheus-Scrape-Timeout-Seconds': '5' } });
    await fetch(`${s.url}/metrics`, { headers: { 'User-Agent': 'curl/8' } });
    assert.equal(seen[0], seen[1]);
    assert.equal(new Set(seen).size, 3);
    assert.match(seen[0] ?? '', /^127\.0\.0\.1\|Prometheus\/2\.53\|10$/);
  } finally {
    await s.close();
  }
});

test('beyond max requests (and beyond the per-client share) a scrape gets 503 at once; /health still answers', async () => {
  let release: () => void = () => {};
  const gate = new Promise<void>((r) => (release = r));
  const s = await serve({ metrics: async () => (await gate, { id: 1, text: 'up 1\n' }), maxRequests: 3, maxRequestsPerClient: 2 });
  try {
    const get = (localAddress: string) =>
      new Promise<number>((resolve, reject) => {
        const u = new URL(`${s.url}/metrics`);
        http.get({ host: u.hostname, port: u.port, path: u.pathname, localAddress, agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        }).on('error', reject);
      });
    const held = [get('127.0.0.1'), get('127.0.0.1')];
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await get('127.0.0.1'), 503, "third concurrent scrape from one address: over the client's share");
    held.push(get('127.0.0.2'));
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await get('127.0.0.3'), 503, 'fourth concurrent scrape: over max requests');
    assert.equal((await fetch(`${s.url}/health`)).status, 200);
    release();
    assert.deepEqual(await Promise.all(held), [200, 200, 200]);
    assert.equal(await get('127.0.0.1'), 200, 'slots are given back when answers finish');
  } finally {
    await s.close();
  }
});

test('/health answers 503 with the reason while the collection is unhealthy', async () => {
  let reason: string | undefined = '3 collection cycles failed in a row';
  const s = await serve({ unhealthy: () => reason });
  try {
    const r = await fetch(`${s.url}/health`);
    assert.equal(r.status, 503);
    assert.deepEqual(await r.json(), { status: 'failing', reason: '3 collection cycles failed in a row' });
    reason = undefined;
    assert.equal((await fetch(`${s.url}/health`)).status, 200);
  } finally {
    await s.close();
  }
});
