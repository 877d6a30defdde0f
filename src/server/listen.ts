/**
 * The HTTP(S) server in front of the Koa app: plain HTTP, or TLS and/or basic auth from
 * -web.config.file, with limits on what one client can hold.
 *
 * The web config and the files it names are checked on every new connection and every
 * request, and re-parsed when one changed, so certificates rotate and users change without a
 * restart, as the exporter-toolkit does per handshake. The checks and reads are asynchronous:
 * a slow, huge or hostile file never holds the event loop. A changed file that does not load keeps
 * the last good config and logs the problem once. Switching TLS on or off, or changing
 * client_auth_type, needs a restart (logged likewise).
 */
import { createHash, createHmac, randomBytes, timingSafeEqual, X509Certificate } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { createSecureContext, type SecureContextOptions, type TLSSocket } from 'node:tls';
import type { ConfigProblem } from '../errors.js';
import type { Logger } from '../log.js';
import { fileStamp, FileRefusedError, readRegularFile } from '../read-file.js';
import { BcryptWorker } from './bcrypt-worker.js';
import { guardConnections } from './connection-guard.js';
import { parseWebConfig, WebConfigError, type PemSource, type TlsSettings, type WebConfig } from './web-config.js';

export interface ServerLimits {
  /** time to receive the request headers */
  headersTimeoutMs: number;
  /** time to receive the whole request */
  requestTimeoutMs: number;
  /** idle keep-alive connections are closed after this */
  keepAliveTimeoutMs: number;
  /** TLS handshake deadline */
  handshakeTimeoutMs: number;
  /** a socket with no traffic either way for this long is closed */
  socketIdleTimeoutMs: number;
  /** total size of the request line and headers; larger requests get 431 */
  maxHeaderBytes: number;
  /** a request body larger than this (declared, or counted when chunked) gets 413 (no endpoint reads bodies) */
  maxBodyBytes: number;
  /** open connections; beyond, the oldest one that never carried a request is closed (bounds fds) */
  maxConnections: number;
  /** open connections from one client address; beyond, new ones are closed at once */
  maxConnectionsPerClient: number;
  /** bcrypt checks waiting to run; beyond this, requests with uncached credentials get 429 */
  maxPendingAuth: number;
  /**
   * connections the kernel queues until we accept them (capped by net.core.somaxconn). While the
   * queue is full, new SYNs are dropped and a probe waits for the client's SYN retransmits (1 s,
   * then 3 s, 7 s): a burst of a few hundred connections during a walk would cost the kubelet's
   * probe its 1 s timeout with Node's default of 511.
   */
  listenBacklog: number;
}

export const DEFAULT_LIMITS: ServerLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  keepAliveTimeoutMs: 65_000,
  handshakeTimeoutMs: 10_000,
  socketIdleTimeoutMs: 120_000,
  maxHeaderBytes: 16 * 1024,
  maxBodyBytes: 64 * 1024,
  maxConnections: 256,
  maxConnectionsPerClient: 16,
  maxPendingAuth: 32,
  listenBacklog: 4096,
};

export type ExporterServer = http.Server | https.Server;

export interface ListenOptions {
  /** undefined: all interfaces */
  host: string | undefined;
  port: number;
  /** -web.config.file; undefined or '': plain HTTP without authentication */
  webConfigFile: string | undefined;
  handler: (req: IncomingMessage, res: ServerResponse) => void;
  log: Logger;
  limits?: Partial<ServerLimits>;
}

/** A web config with its TLS material read and checked. */
interface LoadedWebConfig {
  config: WebConfig;
  secure: SecureContextOptions | undefined;
  /** identity of the files it was read from, to notice changes */
  stamp: string;
}

function pemPath(src: PemSource, configFile: string): string | undefined {
  return 'path' in src ? path.resolve(path.dirname(configFile), src.path) : undefined;
}

function watchedFiles(file: string, tls: TlsSettings | undefined): string[] {
  const files = [file];
  for (const src of tls ? [tls.cert, tls.key, tls.clientCa] : []) {
    const p = src && pemPath(src, file);
    if (p) files.push(p);
  }
  return files;
}

/** Web config files and PEM files larger than this are refused (a certificate chain is a few KiB). */
export const MAX_WEB_FILE_BYTES = 1 << 20;

const digestOf = (file: string): Promise<string> => fileStamp(file, MAX_WEB_FILE_BYTES);

const stampOf = async (files: readonly string[]): Promise<string> => (await Promise.all(files.map(digestOf))).join('|');

function problemAt(src: PemSource, message: string): ConfigProblem {
  return { ...src.at, message };
}

async function readPem(src: PemSource, configFile: string): Promise<string> {
  if ('pem' in src) return src.pem;
  const file = pemPath(src, configFile) as string;
  try {
    return (await readRegularFile(file, MAX_WEB_FILE_BYTES)).toString('utf8');
  } catch (err) {
    if (!(err instanceof FileRefusedError)) throw err;
    throw new WebConfigError([problemAt(src, `cannot read ${file}: ${err.message}`)], { cause: err });
  }
}

/** OpenSSL's reason without the stack or any PEM text */
function opensslReason(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown };
  const message = typeof e?.message === 'string' ? e.message.split('\n')[0] : String(err);
  return typeof e?.code === 'string' ? `${message} (${e.code})` : (message ?? 'unknown error');
}

async function secureOptions(tls: TlsSettings, configFile: string): Promise<SecureContextOptions> {
  const cert = await readPem(tls.cert, configFile);
  const key = await readPem(tls.key, configFile);
  const ca = tls.clientCa && (await readPem(tls.clientCa, configFile));
  const options: SecureContextOptions = {
    cert,
    key,
    ca,
    minVersion: tls.minVersion,
    maxVersion: tls.maxVersion,
    honorCipherOrder: tls.honorCipherOrder,
    ciphers: tls.ciphers,
    ...(tls.ecdhCurve !== undefined && { ecdhCurve: tls.ecdhCurve }),
  };
  // build it once here: a key that does not match the certificate, bad PEM or bad CA fails now
  const problems: ConfigProblem[] = [];
  for (const [what, src, value] of [['certificate', tls.cert, cert], ['CA', tls.clientCa, ca]] as const) {
    if (src && value !== undefined && !/-----BEGIN CERTIFICATE-----/.test(value)) problems.push(problemAt(src, `no PEM ${what} found`));
  }
  if (problems.length) throw new WebConfigError(problems);
  try {
    createSecureContext(options);
  } catch (err) {
    throw new WebConfigError([problemAt(tls.key, `cannot use the certificate and key: ${opensslReason(err)}`)], { cause: err });
  }
  return options;
}

/** Reads and checks a web config file and the TLS files it names. Throws WebConfigError. */
export async function loadWebConfig(file: string): Promise<LoadedWebConfig> {
  // each file is digested before it is read: a change in between shows up at the next check
  const configDigest = await digestOf(file);
  let text: string;
  try {
    text = (await readRegularFile(file, MAX_WEB_FILE_BYTES)).toString('utf8');
  } catch (err) {
    if (!(err instanceof FileRefusedError)) throw err;
    throw new WebConfigError([{ file, line: 0, column: 0, field: '', message: `cannot read web config file: ${err.message}` }], { cause: err });
  }
  const config = parseWebConfig(text, file);
  const stamp = [configDigest, ...(await Promise.all(watchedFiles(file, config.tls).slice(1).map(digestOf)))].join('|');
  const secure = config.tls && (await secureOptions(config.tls, file));
  return { config, secure, stamp };
}

/** The current web config, re-read when its file or a TLS file it names changed. */
class WebConfigSource {
  private rejectedStamp: string | undefined;
  /** the reload under way: one at a time, later checks that found the same change wait for it */
  private reloading: Promise<LoadedWebConfig> | undefined;

  private constructor(
    private readonly file: string,
    private readonly log: Logger,
    /** the last good config */
    public current: LoadedWebConfig,
  ) {}

  static async open(file: string, log: Logger): Promise<WebConfigSource> {
    return new WebConfigSource(file, log, await loadWebConfig(file));
  }

  /** The current config after checking its files (one stat each) and re-reading them if they changed. Never rejects. */
  async refresh(): Promise<LoadedWebConfig> {
    const stamp = await stampOf(watchedFiles(this.file, this.current.config.tls));
    if (stamp === this.current.stamp || stamp === this.rejectedStamp) return this.current;
    this.reloading ??= this.reload(stamp).finally(() => (this.reloading = undefined));
    return this.reloading;
  }

  private async reload(stamp: string): Promise<LoadedWebConfig> {
    const { config } = this.current;
    try {
      const next = await loadWebConfig(this.file);
      const restart = restartNeeded(config, next.config);
      if (restart) throw new WebConfigError([{ file: this.file, line: 0, column: 0, field: 'tls_server_config', message: `${restart} needs a restart` }]);
      this.current = next;
      this.rejectedStamp = undefined;
      this.log.info('web config reloaded', { file: this.file, tls: next.config.tls !== undefined, users: next.config.users.size });
    } catch (err) {
      this.rejectedStamp = stamp;
      const message = err instanceof WebConfigError ? err.message : opensslReason(err);
      this.log.error('web config changed but cannot be used, keeping the last good one', { file: this.file, err: message });
    }
    return this.current;
  }
}

function restartNeeded(before: WebConfig, after: WebConfig): string | undefined {
  if ((before.tls === undefined) !== (after.tls === undefined)) return 'switching TLS on or off';
  if (before.tls && after.tls && before.tls.clientAuth !== after.tls.clientAuth) return 'changing client_auth_type';
  return undefined;
}

/** SAN values of a certificate as Go formats them: DNS names, emails, IPs, URIs. */
function subjectAltNames(raw: Buffer): string[] {
  const text = new X509Certificate(raw).subjectAltName ?? '';
  const out: string[] = [];
  // Node quotes values holding ',' or '"' as JSON strings
  for (const m of text.matchAll(/(?:^|, )(DNS|email|IP Address|URI):("(?:[^"\\]|\\.)*"|[^,]*)/g)) {
    const value = m[2] ?? '';
    out.push(value.startsWith('"') ? (JSON.parse(value) as string) : value);
  }
  return out;
}

/** Why a finished handshake must be dropped under the client_auth_type, or undefined. */
export function clientCertProblem(socket: TLSSocket, tls: TlsSettings): string | undefined {
  const peer = socket.getPeerCertificate();
  const presented = peer !== null && typeof peer === 'object' && Object.keys(peer).length > 0;
  switch (tls.clientAuth) {
    case 'NoClientCert':
    case 'RequestClientCert':
      return undefined;
    case 'VerifyClientCertIfGiven':
      return presented && !socket.authorized ? `client certificate not trusted: ${String(socket.authorizationError)}` : undefined;
    case 'RequireAnyClientCert':
    case 'RequireAndVerifyClientCert':
      if (!presented) return 'no client certificate';
      if (tls.clientAuth === 'RequireAndVerifyClientCert' && !socket.authorized) return `client certificate not trusted: ${String(socket.authorizationError)}`;
      if (tls.clientAllowedSans) {
        const sans = subjectAltNames(peer.raw);
        if (!sans.some((s) => tls.clientAllowedSans?.includes(s))) return 'client certificate has none of client_allowed_sans';
      }
      return undefined;
  }
}

/** The bcrypt cost of a hash ($2y$12$... -> 12). */
export const bcryptCost = (hash: string): number => Number(hash.slice(4, 6));

/**
 * Basic auth against bcrypt hashes. Verified (and refused) credentials are cached under an HMAC
 * with a per-process key, so bcrypt runs once per credential, not per scrape, and the cache holds
 * no password. Verified and refused ones are kept apart, so a flood of wrong passwords cannot
 * push a good credential out. bcrypt checks run one at a time on a worker thread (they cost ~0.1-0.4 s of CPU
 * each), so a flood of wrong passwords takes at most one core and never delays the event loop;
 * an unknown user is checked against a dummy hash of the highest configured cost, so response
 * times do not tell which users exist.
 */
export class BasicAuth {
  private readonly key = randomBytes(32);
  /** HMACs of credentials, least recently used first */
  private readonly verified = new Set<string>();
  private readonly refused = new Set<string>();
  private queue: Promise<unknown> = Promise.resolve();
  private pending = 0;
  /** by cost, made on first use */
  private readonly dummyHashes = new Map<number, Promise<string>>();
  /** bcrypt itself; its thread starts on the first check, so an exporter without users never starts it */
  private readonly bcrypt = new BcryptWorker();

  private readonly maxCached: number;
  private readonly maxPending: number;
  private readonly compare: (password: string, hash: string) => Promise<boolean>;

  constructor(opts: { maxCached?: number; maxPending?: number; compare?: (password: string, hash: string) => Promise<boolean> } = {}) {
    this.maxCached = opts.maxCached ?? 256;
    this.maxPending = opts.maxPending ?? DEFAULT_LIMITS.maxPendingAuth;
    this.compare = opts.compare ?? ((password, hash) => this.bcrypt.compare(password, hash));
  }

  /** Stops the bcrypt thread (with the server): later checks fail. */
  close(): Promise<void> {
    return this.bcrypt.close();
  }

  /**
   * A hash of a random password at the highest cost among `users` (an unknown user must cost as
   * much as the slowest real one); made on the first check, so an exporter without users neither
   * starts bcrypt nor spends a hash.
   */
  dummy(users: ReadonlyMap<string, string>): Promise<string> {
    let cost = 4;
    for (const h of users.values()) cost = Math.max(cost, bcryptCost(h));
    let dummy = this.dummyHashes.get(cost);
    if (!dummy) {
      dummy = this.bcrypt.hash(randomBytes(16).toString('hex'), cost);
      // a failed thread is restarted by the next call: do not keep the failure
      dummy.catch(() => this.dummyHashes.delete(cost));
      this.dummyHashes.set(cost, dummy);
    }
    return dummy;
  }

  /** true: allowed; false: refused; 'busy': too many uncached checks waiting */
  async check(authorization: string | undefined, users: ReadonlyMap<string, string>): Promise<boolean | 'busy'> {
    const creds = parseBasic(authorization);
    if (!creds) return false;
    let hash: string | undefined;
    const wanted = createHash('sha256').update(creds.user).digest();
    for (const [name, h] of users) {
      // every name compared in full: timing does not depend on where (or whether) it matches
      if (timingSafeEqual(createHash('sha256').update(name).digest(), wanted)) hash = h;
    }
    const known = hash !== undefined;
    // awaited for known users too: response times do not tell which users exist
    const dummy = await this.dummy(users);
    const against = hash ?? dummy;
    const id = createHmac('sha256', this.key).update(creds.user).update('\0').update(against).update('\0').update(creds.password).digest('base64');
    const cached = this.lookup(id);
    if (cached !== undefined) return cached && known;
    if (this.pending >= this.maxPending) return 'busy';
    this.pending++;
    const run = this.queue.then(async () => {
      const again = this.lookup(id);
      if (again !== undefined) return again;
      // a check that failed (thread gone, malformed hash) refuses this request but is not remembered
      return this.compare(creds.password, against).then(
        (ok) => {
          this.remember(id, ok);
          return ok;
        },
        () => false,
      );
    });
    this.queue = run.catch(() => undefined);
    try {
      return (await run) && known;
    } finally {
      this.pending--;
    }
  }

  private lookup(id: string): boolean | undefined {
    for (const [set, ok] of [[this.verified, true], [this.refused, false]] as const) {
      if (!set.delete(id)) continue;
      // most recently used last
      set.add(id);
      return ok;
    }
    return undefined;
  }

  private remember(id: string, ok: boolean): void {
    const set = ok ? this.verified : this.refused;
    set.add(id);
    for (const oldest of set) {
      if (set.size <= this.maxCached) break;
      set.delete(oldest);
    }
  }
}

function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  const m = header === undefined ? null : /^Basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header);
  if (!m) return undefined;
  const decoded = Buffer.from(m[1] as string, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function refuse(res: ServerResponse, status: number, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...headers });
  res.end(`${http.STATUS_CODES[status] ?? 'Error'}\n`);
}

function guarded(
  handler: ListenOptions['handler'],
  source: WebConfigSource | undefined,
  auth: BasicAuth,
  limits: ServerLimits,
  log: Logger,
): ListenOptions['handler'] {
  return (req, res) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    if (!(declared <= limits.maxBodyBytes)) {
      refuse(res, 413, { Connection: 'close' });
      return;
    }
    if (req.headers['transfer-encoding'] !== undefined) {
      // a chunked body declares no size: no endpoint reads bodies, so count and drop it
      let received = 0;
      req.on('data', (chunk: Buffer) => {
        received += chunk.length;
        if (received <= limits.maxBodyBytes) return;
        if (!res.headersSent) refuse(res, 413, { Connection: 'close' });
        req.socket.destroySoon();
        req.removeAllListeners('data');
        req.pause();
      });
    }
    if (!source) {
      handler(req, res);
      return;
    }
    source.refresh().then(
      ({ config }) => authorized(config, req, res),
      (err: unknown) => {
        log.error('web config check failed', { err });
        refuse(res, 500);
      },
    );
  };

  function authorized(config: WebConfig, req: IncomingMessage, res: ServerResponse): void {
    for (const [name, value] of config.headers) res.setHeader(name, value);
    if (config.users.size === 0) {
      handler(req, res);
      return;
    }
    auth.check(req.headers.authorization, config.users).then(
      (ok) => {
        if (ok === true) handler(req, res);
        else if (ok === 'busy') refuse(res, 429, { 'Retry-After': '1' });
        else refuse(res, 401, { 'WWW-Authenticate': 'Basic realm="procgroup-exporter", charset="UTF-8"' });
      },
      (err: unknown) => {
        log.error('basic auth check failed', { err });
        refuse(res, 500);
      },
    );
  }
}

/**
 * Creates the server described by the web config (plain HTTP without one) and listens.
 * Throws WebConfigError when the web config or its TLS files are unusable.
 */
export async function listen(opts: ListenOptions): Promise<ExporterServer> {
  const limits: ServerLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const { log } = opts;
  const source = opts.webConfigFile ? await WebConfigSource.open(opts.webConfigFile, log) : undefined;
  const auth = new BasicAuth({ maxPending: limits.maxPendingAuth });
  const handler = guarded(opts.handler, source, auth, limits, log);
  const common = {
    maxHeaderSize: limits.maxHeaderBytes,
    requestTimeout: limits.requestTimeoutMs,
    headersTimeout: limits.headersTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // how often the header and request deadlines are enforced (Node's default: every 30 s)
    connectionsCheckingInterval: 1000,
  };
  const initial = source?.current;
  let server: ExporterServer;
  if (initial?.config.tls && initial.secure) {
    server = createTlsServer(initial, source as WebConfigSource, handler, common, limits, log);
  } else {
    server = http.createServer(common, handler);
  }
  // the bcrypt thread lives no longer than the server
  server.once('close', () => void auth.close());
  guardConnections(server, { maxConnections: limits.maxConnections, maxPerClient: limits.maxConnectionsPerClient });
  server.timeout = limits.socketIdleTimeoutMs;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: opts.port, host: opts.host, backlog: limits.listenBacklog }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  log.info('web server ready', {
    port,
    tls: initial?.config.tls !== undefined,
    client_auth: initial?.config.tls?.clientAuth,
    basic_auth_users: initial?.config.users.size ?? 0,
    web_config: opts.webConfigFile || undefined,
  });
  return server;
}

function createTlsServer(
  initial: LoadedWebConfig,
  source: WebConfigSource,
  handler: ListenOptions['handler'],
  common: http.ServerOptions,
  limits: ServerLimits,
  log: Logger,
): https.Server {
  const tls = initial.config.tls as TlsSettings;
  // Go's RequireAnyClientCert/VerifyClientCertIfGiven have no OpenSSL equivalent: ask for a
  // certificate without failing the handshake, then check it in clientCertProblem()
  const server = https.createServer(
    {
      ...common,
      ...initial.secure,
      requestCert: tls.clientAuth !== 'NoClientCert',
      rejectUnauthorized: tls.clientAuth === 'RequireAndVerifyClientCert',
      handshakeTimeout: limits.handshakeTimeoutMs,
      pauseOnConnect: true,
    },
    handler,
  );
  let applied = initial;
  // The TLS layer binds a connection to the secure context of the moment it wraps it, in its
  // 'connection' listener. Connections arrive paused (pauseOnConnect: the client's hello waits in
  // the kernel) and are handed to it once the files were checked and, if they changed, re-read
  // without blocking the event loop: this very handshake uses fresh certificates.
  const wrapTls = server.listeners('connection') as ((socket: Socket) => void)[];
  server.removeAllListeners('connection');
  server.on('connection', (socket: Socket) => {
    void source.refresh().then((current) => {
      if (current !== applied && current.secure) {
        server.setSecureContext(current.secure);
        applied = current;
      }
      if (!socket.destroyed) for (const wrap of wrapTls) wrap.call(server, socket);
    });
  });
  // runs before the HTTP layer sees the connection: a refused client never gets to send a request
  server.prependListener('secureConnection', (socket: TLSSocket) => {
    const tlsNow = applied.config.tls;
    const problem = tlsNow && clientCertProblem(socket, tlsNow);
    if (problem) {
      log.debug('TLS client refused', { remote: socket.remoteAddress, reason: problem });
      socket.destroy();
    }
  });
  server.on('tlsClientError', (err, socket) => {
    log.debug('TLS handshake failed', { remote: socket.remoteAddress, err: opensslReason(err) });
  });
  return server;
}
