import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import type Koa from 'koa';
import { createLogger } from '../../../src/log.js';
import { type AppOptions, createApp } from '../../../src/server/app.js';

async function serve(opts: Partial<AppOptions>): Promise<{ url: string; logs: string[]; close(): Promise<void> }> {
  const logs: string[] = [];
  const app: Koa = createApp({
    telemetryPath: '/metrics',
    metrics: async () => '# HELP up x\n# TYPE up gauge\nup 1\n',
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
  let finish: (text: string) => void = () => {};
  const stuck = new Promise<string>((r) => (finish = r));
  const s = await serve({ metrics: () => stuck, collectTimeoutMs: 200 });
  try {
    const r = await fetch(`${s.url}/metrics`);
    assert.equal(r.status, 503);
    assert.equal(await r.text(), 'collection timed out\n');
    assert.equal((await fetch(`${s.url}/health`)).status, 200);
    assert.ok(s.logs.some((l) => l.includes('scrape timed out')));
  } finally {
    finish('');
    await s.close();
  }
});
