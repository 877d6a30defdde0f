/**
 * Minimal client for the Prometheus HTTP API instant query (`GET /api/v1/query`).
 *
 * Built on node:http/https rather than the global fetch: Node 20's fetch cannot take a CA or
 * skip verification per request without the separate undici package, while https.Agent takes
 * `ca` and `rejectUnauthorized` directly and reports connection failures with plain errno codes.
 */
import http from 'node:http';
import https from 'node:https';
import { ExporterError, PrometheusError, errnoOf } from '../errors.js';

export interface PrometheusClientOptions {
  /** base URL of the server; a path prefix (e.g. https://host/prometheus) is kept */
  url: URL;
  /** sent as `Authorization: Bearer <token>` */
  token?: string;
  /** send the token over plain http:// too (anyone on the path can read it) */
  insecureToken?: boolean;
  /** PEM CA bundle that replaces the built-in roots, as curl --cacert does */
  ca?: string;
  /** accept any server certificate */
  insecure?: boolean;
  /** give up when the server is silent this long */
  timeoutMs: number;
}

export interface Sample {
  labels: Record<string, string>;
  value: number;
}

export interface QueryResult {
  samples: Sample[];
  /** warnings the server attached (e.g. a Thanos Querier's partial response) */
  warnings: string[];
}

/** Largest answer read from the server; a report's queries answer a few MB even on big clusters. */
export const MAX_ANSWER_BYTES = 64 * 1024 * 1024;

// C0 controls but \t and \n, DEL, C1 controls (0x9b is a one-byte CSI on some terminals)
const CONTROL_RE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g;

/** Server-controlled text made safe to print: no escape sequences can reach the terminal. */
export function printable(text: string): string {
  return text.replace(CONTROL_RE, '');
}

const SCHEME_RE = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * The server URL from `--url`: a full http(s) URL, or a bare host[:port][/path] such as an
 * OpenShift route host (`oc get route prometheus-k8s -n openshift-monitoring`), which means https.
 */
export function parsePrometheusUrl(input: string): URL {
  const text = input.trim();
  let url: URL;
  try {
    url = new URL(SCHEME_RE.test(text) ? text : `https://${text}`);
  } catch (err) {
    throw new ExporterError('FLAG_INVALID', `--url ${JSON.stringify(input)}: not a host or URL`, { cause: err });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ExporterError('FLAG_INVALID', `--url ${JSON.stringify(input)}: only http:// and https:// are supported`);
  }
  if (url.username || url.password) {
    throw new ExporterError('FLAG_INVALID', `--url: leave credentials out of the URL; pass a bearer token with --token or --token-file`);
  }
  if (url.search || url.hash) {
    throw new ExporterError('FLAG_INVALID', `--url ${JSON.stringify(input)}: give the server's base URL, without ?query or #fragment`);
  }
  return url;
}

/** A sample value as Prometheus formats it (Go float formatting: NaN, +Inf, -Inf), or undefined. */
export function parseSampleValue(s: string): number | undefined {
  switch (s) {
    case 'NaN':
      return NaN;
    case '+Inf':
      return Infinity;
    case '-Inf':
      return -Infinity;
    default: {
      const n = Number(s);
      return s.trim() === '' || Number.isNaN(n) ? undefined : n;
    }
  }
}

/** Connection errors that mean the server's certificate was not accepted. */
const TLS_VERIFY_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

class SilentServerError extends Error {
  readonly code = 'ETIMEDOUT';
}

function connectionHint(code: string, url: URL): string {
  if (TLS_VERIFY_CODES.has(code)) {
    return "the server's TLS certificate was not accepted: pass --ca-file with the CA that signed it, or --insecure";
  }
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return `host ${url.hostname} not found: check --url (OpenShift: oc get route prometheus-k8s -n openshift-monitoring -o jsonpath='{.status.ingress[0].host}')`;
    case 'ECONNREFUSED':
      return `nothing listens on ${url.host}: check the host and port in --url`;
    case 'ETIMEDOUT':
      return 'no answer in time: check --url, the network path, or raise --timeout';
    case 'EPROTO':
      return url.protocol === 'https:'
        ? 'TLS handshake failed: if the server speaks plain HTTP, write the URL as http://'
        : 'protocol error';
    case 'ECONNRESET':
      return url.protocol === 'http:'
        ? 'connection reset: if the server speaks HTTPS, write the URL as https://'
        : 'connection reset by the server';
    default:
      return 'check --url';
  }
}

interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export class PrometheusClient {
  private readonly base: URL;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;
  private readonly agent: http.Agent;

  constructor(opts: PrometheusClientOptions) {
    if (opts.token !== undefined && opts.url.protocol === 'http:' && !opts.insecureToken) {
      throw new ExporterError(
        'FLAG_INVALID',
        `refusing to send the bearer token over plain http:// to ${opts.url.host}, where anyone on the path can read it: use https://, or pass --insecure-token to send it anyway`,
      );
    }
    this.base = opts.url;
    this.token = opts.token;
    this.timeoutMs = opts.timeoutMs;
    this.agent =
      opts.url.protocol === 'https:'
        ? new https.Agent({ keepAlive: true, ca: opts.ca, rejectUnauthorized: !opts.insecure })
        : new http.Agent({ keepAlive: true });
  }

  /** The server's base URL as given, for reports and messages. */
  get url(): string {
    return this.base.href;
  }

  /** Instant query at `at`; the result must be an instant vector. */
  async query(expr: string, at: Date): Promise<QueryResult> {
    const target = new URL(`${this.base.pathname.replace(/\/+$/, '')}/api/v1/query`, this.base);
    target.searchParams.set('query', expr);
    target.searchParams.set('time', (at.getTime() / 1000).toFixed(3));
    const endpoint = `${target.origin}${target.pathname}`;
    const res = await this.get(target, endpoint);
    return interpretResponse(res, endpoint, expr, this.token !== undefined);
  }

  /** Close kept-alive connections. */
  close(): void {
    this.agent.destroy();
  }

  private get(target: URL, endpoint: string): Promise<RawResponse> {
    const headers: http.OutgoingHttpHeaders = { Accept: 'application/json' };
    if (this.token !== undefined) headers['Authorization'] = `Bearer ${this.token}`;
    const lib = target.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.get(target, { agent: this.agent, headers, timeout: this.timeoutMs }, (res) => {
        const tooLarge = () => {
          reject(
            new PrometheusError(
              'PROMETHEUS_QUERY',
              endpoint,
              `${endpoint} sent an answer larger than ${MAX_ANSWER_BYTES / 1024 / 1024} MiB: not read; check --url, or narrow the report (--source, --skip-namespace)`,
              { status: res.statusCode },
            ),
          );
          req.destroy();
        };
        if (Number(res.headers['content-length']) > MAX_ANSWER_BYTES) return tooLarge();
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > MAX_ANSWER_BYTES) tooLarge();
          else chunks.push(c);
        });
        res.on('error', reject);
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }),
        );
      });
      req.on('timeout', () => req.destroy(new SilentServerError(`no answer within ${this.timeoutMs} ms`)));
      req.on('error', (err) => {
        const code = errnoOf(err);
        reject(
          new PrometheusError(
            'PROMETHEUS_UNREACHABLE',
            endpoint,
            `cannot reach Prometheus at ${endpoint}: ${code} (${err.message}); ${connectionHint(code, target)}`,
            { cause: err },
          ),
        );
      });
    });
  }
}

function parseJson(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

interface ApiBody {
  status?: unknown;
  errorType?: unknown;
  error?: unknown;
  warnings?: unknown;
  data?: { resultType?: unknown; result?: unknown };
}

function interpretResponse(res: RawResponse, endpoint: string, expr: string, tokenGiven: boolean): QueryResult {
  const { status } = res;
  if (status === 401) {
    throw new PrometheusError(
      'PROMETHEUS_AUTH',
      endpoint,
      tokenGiven
        ? `Prometheus at ${endpoint} refused the token (401 Unauthorized): it is wrong or expired; get a fresh one (oc whoami -t) and pass it with --token or --token-file`
        : `Prometheus at ${endpoint} requires authentication (401 Unauthorized): pass a bearer token with --token or --token-file (oc whoami -t)`,
      { status },
    );
  }
  if (status === 403) {
    throw new PrometheusError(
      'PROMETHEUS_AUTH',
      endpoint,
      `Prometheus at ${endpoint} denied access (403 Forbidden): ${tokenGiven ? 'the token is valid but its user may not query metrics' : 'pass a bearer token with --token or --token-file'}; on OpenShift the user needs the cluster-monitoring-view cluster role`,
      { status },
    );
  }
  if (status >= 300 && status < 400) {
    throw new PrometheusError(
      'PROMETHEUS_UNREACHABLE',
      endpoint,
      `${endpoint} answered ${status} with a redirect to ${printable(res.headers.location ?? '(no location)')} instead of the API: a login page means the token is missing or refused; otherwise use that address as --url`,
      { status },
    );
  }
  const body = parseJson(res.body) as ApiBody | undefined;
  if (body === undefined || typeof body !== 'object' || body === null || typeof body.status !== 'string') {
    throw new PrometheusError(
      'PROMETHEUS_UNREACHABLE',
      endpoint,
      `${endpoint} is not a Prometheus API (${status}, ${printable(res.headers['content-type'] ?? 'no content type')}): check --url`,
      { status },
    );
  }
  if (body.status !== 'success') {
    throw new PrometheusError(
      'PROMETHEUS_QUERY',
      endpoint,
      `Prometheus rejected the query (${status} ${printable(String(body.errorType ?? 'error'))}): ${printable(String(body.error ?? 'no detail'))}\n  query: ${expr}`,
      { status },
    );
  }
  const data = body.data;
  if (data?.resultType !== 'vector' || !Array.isArray(data.result)) {
    throw new PrometheusError(
      'PROMETHEUS_QUERY',
      endpoint,
      `Prometheus answered a ${printable(String(data?.resultType))} where an instant vector was expected\n  query: ${expr}`,
      { status },
    );
  }
  const samples = data.result.map((item: unknown): Sample => {
    const { metric, value } = (item ?? {}) as { metric?: unknown; value?: unknown };
    const v = Array.isArray(value) && typeof value[1] === 'string' ? parseSampleValue(value[1]) : undefined;
    if (typeof metric !== 'object' || metric === null || v === undefined) {
      throw new PrometheusError('PROMETHEUS_QUERY', endpoint, `malformed sample ${JSON.stringify(item)}\n  query: ${expr}`, {
        status,
      });
    }
    return { labels: metric as Record<string, string>, value: v };
  });
  const warnings = Array.isArray(body.warnings) ? body.warnings.map((w) => printable(String(w))) : [];
  return { samples, warnings };
}
