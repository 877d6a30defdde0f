import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from '../log.js';
import { OPENMETRICS_CONTENT_TYPE, prefersOpenMetrics, toOpenMetrics } from './openmetrics.js';

const gzip = promisify(gzipCallback);
const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface AppOptions {
  telemetryPath: string;
  /** Prometheus text exposition of the current cycle */
  metrics: () => Promise<string>;
  /** JSON for /psi; absent, or returning undefined, while the PSI collector is off */
  psi?: () => unknown;
  /** POST /-/reload; resolves with an error message when the new config was rejected */
  reload?: () => Promise<string | undefined>;
  log: Logger;
  version: string;
  /** a scrape waiting longer than this for its collection gets 503 (the cycle itself runs on); default 60 s */
  collectTimeoutMs?: number;
}

class CollectTimeout extends Error {}

/** Rejects with CollectTimeout after `ms`; the timer never keeps the process alive. */
function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CollectTimeout()), ms);
    timer.unref();
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Koa app serving /metrics (or the telemetry path), /health, /psi, /-/reload and a landing page. */
export function createApp(opts: AppOptions): Koa {
  const app = new Koa();
  const router = new Router();

  // failures are logged here; the body never carries stack traces or file contents
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      opts.log.error('request failed', { path: ctx.path, err });
      ctx.status = 500;
      ctx.type = 'text/plain';
      ctx.body = 'internal error\n';
    }
  });

  const collectTimeoutMs = opts.collectTimeoutMs ?? 60_000;
  router.get(opts.telemetryPath, async (ctx) => {
    let text: string;
    try {
      text = await withTimeout(opts.metrics(), collectTimeoutMs);
    } catch (err) {
      if (!(err instanceof CollectTimeout)) throw err;
      opts.log.warn('scrape timed out waiting for the collection cycle', { timeout_ms: collectTimeoutMs });
      ctx.status = 503;
      ctx.type = 'text/plain';
      ctx.body = 'collection timed out\n';
      return;
    }
    const openMetrics = prefersOpenMetrics(ctx.get('Accept'));
    if (openMetrics) await yieldToEventLoop(); // rendering just ran: let waiting requests in first
    const body = openMetrics ? toOpenMetrics(text) : text;
    ctx.type = openMetrics ? OPENMETRICS_CONTENT_TYPE : TEXT_CONTENT_TYPE;
    ctx.vary('Accept-Encoding');
    if (ctx.acceptsEncodings('gzip', 'identity') === 'gzip') {
      ctx.set('Content-Encoding', 'gzip');
      ctx.body = await gzip(body);
    } else {
      ctx.body = body;
    }
  });

  router.get('/health', (ctx) => {
    ctx.body = { status: 'ok' };
  });

  router.get('/psi', (ctx) => {
    const report = opts.psi?.();
    if (report === undefined) {
      ctx.status = 404;
      ctx.type = 'text/plain';
      ctx.body = 'the PSI collector is not enabled (-collector.psi, or psi: {enabled: true} in the config)\n';
      return;
    }
    ctx.body = report;
  });

  if (opts.reload) {
    const reload = opts.reload;
    router.post('/-/reload', async (ctx) => {
      const error = await reload();
      ctx.status = error === undefined ? 200 : 400;
      ctx.type = 'text/plain';
      // the problems (which quote config values) go to the log, not to whoever can reach this port
      ctx.body = error === undefined ? 'config reloaded\n' : 'config rejected, keeping the last good one; the exporter log names the file, line and field\n';
    });
  }

  router.get('/', (ctx) => {
    ctx.type = 'text/html';
    const links = [[opts.telemetryPath, 'Metrics'], ['/health', 'Health'], ['/psi', 'Pressure (PSI) as JSON']];
    ctx.body = `<!doctype html><html><head><title>procgroup-exporter</title></head><body>
<h1>procgroup-exporter ${escapeHtml(opts.version)}</h1>
<p>Per-group process metrics, a drop-in replacement for process-exporter.</p>
<ul>${links.map(([href, text]) => `<li><a href="${escapeHtml(href ?? '')}">${escapeHtml(text ?? '')}</a></li>`).join('')}</ul>
</body></html>\n`;
  });

  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
