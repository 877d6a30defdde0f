import { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';
import Router from '@koa/router';
import Koa from 'koa';
import type { Logger } from '../log.js';
import { type GroupsSource, groupsRoutes } from './groups-pages.js';
import { OPENMETRICS_CONTENT_TYPE, prefersOpenMetrics, toOpenMetrics } from './openmetrics.js';

const gzip = promisify(gzipCallback);
const TEXT_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** The text exposition of one collection; `id` changes whenever the text does. */
export interface Exposition {
  id: number;
  text: string;
}

export interface AppOptions {
  telemetryPath: string;
  /** the exposition of a collection `scraper` has not been handed yet (see scraperOf) */
  metrics: (scraper: string) => Promise<Exposition>;
  /** /health answers 503 while this returns a reason */
  unhealthy?: () => string | undefined;
  /** concurrent /metrics requests (waiting or being written); beyond, 503 at once; default 40 */
  maxRequests?: number;
  /** concurrent /metrics requests from one client address; beyond, 503 at once; default 4 */
  maxRequestsPerClient?: number;
  /** a client that has not read the whole answer this long after it was ready is cut off; default 30 s */
  writeTimeoutMs?: number;
  /** the groups for `/`, /groups/<name> and /api/groups (absent: the pages say there is no collection) */
  groups?: GroupsSource;
  /** JSON for /psi; absent, or returning undefined, while the PSI collector is off */
  psi?: () => unknown;
  /** POST /-/reload (absent: 403, -web.enable-lifecycle is off); resolves with an error message when the new config was rejected */
  reload?: () => Promise<string | undefined>;
  log: Logger;
  version: string;
  /** a scrape waiting longer than this for its collection gets 503 (the cycle itself runs on); default 60 s */
  collectTimeoutMs?: number;
}

class CollectTimeout extends Error {}

/**
 * Who is scraping, to hand each scraper a collection it has not had: the client address, its
 * User-Agent, and Prometheus' scrape timeout header (one Prometheus scraping the target in two
 * jobs is two scrapers). Two Prometheus replicas differ by address.
 */
export function scraperOf(req: { socket: { remoteAddress?: string | undefined }; headers: Record<string, string | string[] | undefined> }): string {
  const h = (name: string) => String(req.headers[name] ?? '').slice(0, 256);
  return `${req.socket.remoteAddress ?? ''}|${h('user-agent')}|${h('x-prometheus-scrape-timeout-seconds')}`;
}

/** Each format and encoding of one exposition rendered at most once, shared by every request. */
class RenderedBodies {
  private id = -1;
  private bodies = new Map<string, Promise<Buffer>>();

  get(exposition: Exposition, openMetrics: boolean, gzipped: boolean): Promise<Buffer> {
    if (exposition.id !== this.id) {
      this.id = exposition.id;
      this.bodies = new Map();
    }
    const key = `${openMetrics}|${gzipped}`;
    let body = this.bodies.get(key);
    if (!body) {
      body = (async () => {
        if (openMetrics) await yieldToEventLoop(); // rendering just ran: let waiting requests in first
        const text = Buffer.from(openMetrics ? toOpenMetrics(exposition.text) : exposition.text);
        return gzipped ? gzip(text) : text;
      })();
      this.bodies.set(key, body);
    }
    return body;
  }
}

/**
 * Closes a connection with a TCP reset. Under TLS the reset goes to the TCP socket the TLS
 * socket wraps (Node keeps it as `_parent`; without it, a plain close).
 */
function resetConnection(socket: Socket): void {
  const tcp = socket instanceof TLSSocket ? (socket as TLSSocket & { _parent?: unknown })._parent : socket;
  if (tcp instanceof Socket) tcp.resetAndDestroy();
  else socket.destroy();
}

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
  const maxRequests = opts.maxRequests ?? 40;
  const maxPerClient = opts.maxRequestsPerClient ?? 4;
  const writeTimeoutMs = opts.writeTimeoutMs ?? 30_000;
  const bodies = new RenderedBodies();
  let active = 0;
  const activeByClient = new Map<string, number>();
  router.get(opts.telemetryPath, async (ctx) => {
    const client = ctx.req.socket.remoteAddress ?? '';
    const mine = activeByClient.get(client) ?? 0;
    if (active >= maxRequests || mine >= maxPerClient) {
      ctx.status = 503;
      ctx.type = 'text/plain';
      ctx.set('Retry-After', '1');
      ctx.body = 'too many concurrent scrapes\n';
      return;
    }
    // held until the answer is written or the connection dropped, so slow readers count too
    active++;
    activeByClient.set(client, mine + 1);
    ctx.res.once('close', () => {
      active--;
      const n = (activeByClient.get(client) ?? 1) - 1;
      if (n > 0) activeByClient.set(client, n);
      else activeByClient.delete(client);
    });
    let exposition: Exposition;
    try {
      exposition = await withTimeout(opts.metrics(scraperOf(ctx.req)), collectTimeoutMs);
    } catch (err) {
      if (!(err instanceof CollectTimeout)) throw err;
      opts.log.warn('scrape timed out waiting for the collection cycle', { timeout_ms: collectTimeoutMs });
      ctx.status = 503;
      ctx.type = 'text/plain';
      ctx.body = 'collection timed out\n';
      return;
    }
    const openMetrics = prefersOpenMetrics(ctx.get('Accept'));
    const gzipped = ctx.acceptsEncodings('gzip', 'identity') === 'gzip';
    ctx.type = openMetrics ? OPENMETRICS_CONTENT_TYPE : TEXT_CONTENT_TYPE;
    ctx.vary('Accept-Encoding');
    if (gzipped) ctx.set('Content-Encoding', 'gzip');
    ctx.body = await bodies.get(exposition, openMetrics, gzipped);
    // a client reading slower than this holds a request slot and socket buffers: cut it off with
    // a reset, so the kernel drops the unsent answer at once (a plain close leaves an orphaned
    // socket that keeps up to a few MB queued, charged to our cgroup, for as long as the client reads)
    const socket = ctx.req.socket;
    const timer = setTimeout(() => resetConnection(socket), writeTimeoutMs);
    timer.unref();
    ctx.res.once('close', () => clearTimeout(timer));
  });

  router.get('/health', (ctx) => {
    const problem = opts.unhealthy?.();
    if (problem !== undefined) {
      ctx.status = 503;
      ctx.body = { status: 'failing', reason: problem };
      return;
    }
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

  router.post('/-/reload', async (ctx) => {
    if (!opts.reload) {
      // as Prometheus: reloading over HTTP is opt-in (-web.enable-lifecycle); SIGHUP always works
      ctx.status = 403;
      ctx.type = 'text/plain';
      ctx.body = 'Lifecycle API is not enabled.\n';
      return;
    }
    const error = await opts.reload();
    ctx.status = error === undefined ? 200 : 400;
    ctx.type = 'text/plain';
    // the problems (which quote config values) go to the log, not to whoever can reach this port
    ctx.body = error === undefined ? 'config reloaded\n' : 'config rejected, keeping the last good one; the exporter log names the file, line and field\n';
  });

  groupsRoutes(router, {
    groups: opts.groups ?? { view: () => Promise.resolve(undefined) },
    version: opts.version,
    links: [[opts.telemetryPath, 'Metrics'], ['/api/groups', 'Groups as JSON'], ['/health', 'Health'], ['/psi', 'Pressure (PSI) as JSON']],
  });

  app.use(router.routes());
  app.use(router.allowedMethods());
  return app;
}
