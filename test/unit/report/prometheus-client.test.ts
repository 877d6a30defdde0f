/**
 * URL handling, value parsing, and the client's answers to what the proxies in front of an
 * OpenShift Prometheus send (oauth-proxy / kube-rbac-proxy: bearer token checks, 403, login
 * redirects, HTML pages, a silent peer). Those proxies cannot run here, so a local node:http
 * server plays them. Prometheus's own answers (success, 400 bad_data, 401 from its web config,
 * TLS) are tested against a real Prometheus in test/integration/report/.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PrometheusError } from '../../../src/errors.js';
import { MAX_ANSWER_BYTES, PrometheusClient, parsePrometheusUrl, parseSampleValue } from '../../../src/report/prometheus-client.js';

test('a bare host means https; full URLs keep scheme, port and path prefix', () => {
  assert.equal(
    parsePrometheusUrl('prometheus-k8s-openshift-monitoring.apps.cluster.example').href,
    'https://prometheus-k8s-openshift-monitoring.apps.cluster.example/',
  );
  assert.equal(parsePrometheusUrl('prom.example:9091/prometheus').href, 'https://prom.example:9091/prometheus');
  assert.equal(parsePrometheusUrl('http://127.0.0.1:9090').href, 'http://127.0.0.1:9090/');
  assert.equal(parsePrometheusUrl('HTTPS://Prom.Example/').href, 'https://prom.example/');
});

test('URLs the report cannot use are flag errors naming --url', () => {
  for (const [input, why] of [
    ['ftp://prom.example', /only http:\/\/ and https:\/\//],
    ['https://user:pw@prom.example', /leave credentials out of the URL/],
    ['https://prom.example/?x=1', /without \?query/],
    ['http://', /not a host or URL/],
  ] as const) {
    assert.throws(
      () => parsePrometheusUrl(input),
      (err: unknown) => err instanceof Error && (err as { code?: string }).code === 'FLAG_INVALID' && why.test(err.message) && err.message.startsWith('--url'),
      input,
    );
  }
});

test('sample values as Prometheus writes them', () => {
  assert.equal(parseSampleValue('0.25'), 0.25);
  assert.equal(parseSampleValue('1e-7'), 1e-7);
  assert.equal(parseSampleValue('+Inf'), Infinity);
  assert.equal(parseSampleValue('-Inf'), -Infinity);
  assert.ok(Number.isNaN(parseSampleValue('NaN')));
  assert.equal(parseSampleValue(''), undefined);
  assert.equal(parseSampleValue('abc'), undefined);
});

// ---------- against a local stand-in for the proxies ----------

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
let handler: Handler = (_req, res) => res.end();
const seen: http.IncomingMessage[] = [];
const server = http.createServer((req, res) => {
  seen.push(req);
  handler(req, res);
});
let base: URL;

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = new URL(`http://127.0.0.1:${(server.address() as AddressInfo).port}/prefix`);
});
after(() => {
  server.closeAllConnections();
  server.close();
});

async function queryWith(h: Handler, opts: { token?: string; timeoutMs?: number } = {}): Promise<unknown> {
  handler = h;
  // the stand-in speaks plain http on loopback: the token goes out only with insecureToken
  const client = new PrometheusClient({ url: base, token: opts.token, insecureToken: true, timeoutMs: opts.timeoutMs ?? 5000 });
  try {
    return await client.query('up', new Date(1_714_564_800_250));
  } catch (err) {
    return err;
  } finally {
    client.close();
  }
}

const json = (status: number, body: unknown): Handler => (_req, res) => {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
};

function assertPromError(err: unknown, code: string, message: RegExp, status?: number): void {
  assert.ok(err instanceof PrometheusError, `expected a PrometheusError, got ${String(err)}`);
  assert.equal(err.code, code);
  assert.match(err.message, message);
  assert.equal(err.status, status);
  assert.equal(err.url, `${base.origin}/prefix/api/v1/query`);
}

test('sends the bearer token and the query under the path prefix; reads vector and warnings', async () => {
  seen.length = 0;
  const result = await queryWith(
    json(200, {
      status: 'success',
      warnings: ['partial response'],
      data: { resultType: 'vector', result: [{ metric: { pod: 'a' }, value: [1714564800.25, '0.5'] }] },
    }),
    { token: 's3cret' },
  );
  assert.deepEqual(result, { samples: [{ labels: { pod: 'a' }, value: 0.5 }], warnings: ['partial response'] });
  const req = seen[0]!;
  assert.equal(req.headers.authorization, 'Bearer s3cret');
  const url = new URL(req.url ?? '', base);
  assert.equal(url.pathname, '/prefix/api/v1/query');
  assert.equal(url.searchParams.get('query'), 'up');
  assert.equal(url.searchParams.get('time'), '1714564800.250');
});

test('no token: no Authorization header', async () => {
  seen.length = 0;
  await queryWith(json(200, { status: 'success', data: { resultType: 'vector', result: [] } }));
  assert.equal(seen[0]!.headers.authorization, undefined);
});

test('403 from the proxy: the user lacks the right to query, with the OpenShift role to grant', async () => {
  const err = await queryWith((_req, res) => res.writeHead(403).end('Forbidden'), { token: 't' });
  assertPromError(err, 'PROMETHEUS_AUTH', /denied access \(403 Forbidden\): the token is valid but its user may not query metrics.*cluster-monitoring-view/, 403);
});

test('401 without a token asks for one', async () => {
  const err = await queryWith((_req, res) => res.writeHead(401).end());
  assertPromError(err, 'PROMETHEUS_AUTH', /requires authentication \(401 Unauthorized\): pass a bearer token with --token or --token-file/, 401);
});

test('a redirect to a login page names where it leads', async () => {
  const err = await queryWith((_req, res) => res.writeHead(302, { location: 'https://oauth.example/oauth/authorize' }).end());
  assertPromError(err, 'PROMETHEUS_UNREACHABLE', /answered 302 with a redirect to https:\/\/oauth\.example\/oauth\/authorize.*token is missing or refused/, 302);
});

test('an HTML page (a console or a router error page) is not a Prometheus API', async () => {
  const err = await queryWith((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<html>hello</html>'));
  assertPromError(err, 'PROMETHEUS_UNREACHABLE', /is not a Prometheus API \(200, text\/html\): check --url/, 200);
});

test('a result that is not an instant vector is a query error naming the query', async () => {
  const err = await queryWith(json(200, { status: 'success', data: { resultType: 'matrix', result: [] } }));
  assertPromError(err, 'PROMETHEUS_QUERY', /answered a matrix where an instant vector was expected\n {2}query: up/, 200);
});

test('a malformed sample value is a query error', async () => {
  const err = await queryWith(json(200, { status: 'success', data: { resultType: 'vector', result: [{ metric: {}, value: [1, 'x'] }] } }));
  assertPromError(err, 'PROMETHEUS_QUERY', /malformed sample/, 200);
});

test('a silent server times out as unreachable', async () => {
  const err = await queryWith(() => undefined, { timeoutMs: 200 });
  assertPromError(err, 'PROMETHEUS_UNREACHABLE', /ETIMEDOUT \(no answer within 200 ms\); no answer in time/);
});

// ---------- a hostile or plain-http server (issue 13) ----------

test('a token is not sent over http:// unless insecureToken is given; no request is made', () => {
  seen.length = 0;
  assert.throws(
    () => new PrometheusClient({ url: base, token: 's3cret', timeoutMs: 5000 }),
    (err: unknown) =>
      (err as { code?: string }).code === 'FLAG_INVALID' &&
      /refusing to send the bearer token over plain http:\/\/ to 127\.0\.0\.1:\d+.*--insecure-token/.test((err as Error).message),
  );
  assert.equal(seen.length, 0);
  // https, or http without a token, is fine
  new PrometheusClient({ url: new URL('https://prom.example'), token: 's3cret', timeoutMs: 5000 }).close();
  new PrometheusClient({ url: base, timeoutMs: 5000 }).close();
});

// every C0 control but \t and \n, DEL, and C1 controls such as the one-byte CSI
const CONTROLS = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/;

test("escape sequences in the server's error text and warnings are stripped; newlines and tabs kept", async () => {
  const hostile = '\u001b]0;pwned\u0007\u001b[2Jparse error:\r\n\tunexpected \u009b31mtoken\u0000\u007f';
  const err = await queryWith(json(400, { status: 'error', errorType: 'bad_data\u001b[1m', error: hostile }));
  assertPromError(err, 'PROMETHEUS_QUERY', /rejected the query \(400 bad_data\[1m\): \]0;pwned\[2Jparse error:\n\tunexpected 31mtoken\n {2}query: up/, 400);
  assert.doesNotMatch((err as Error).message, CONTROLS);

  const ok = await queryWith(json(200, { status: 'success', warnings: ['partial\u001b[31m response'], data: { resultType: 'vector', result: [] } }));
  assert.deepEqual(ok, { samples: [], warnings: ['partial[31m response'] });
});

test(`an answer larger than ${MAX_ANSWER_BYTES / 1024 / 1024} MiB is refused, and reading stops at the cap`, async () => {
  const chunk = Buffer.alloc(1024 * 1024, 0x20);
  let sent = 0;
  let closed!: () => void;
  const serverSawClose = new Promise<void>((resolve) => (closed = resolve));
  // no Content-Length: the server streams until the client hangs up (or 4x the cap)
  const err = await queryWith((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{"status":"success","data":{"resultType":"vector","result":[],"pad":"');
    res.on('close', closed);
    const pump = (): void => {
      while (!res.destroyed && sent < 4 * MAX_ANSWER_BYTES) {
        sent += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      if (!res.destroyed) res.end('"}}');
    };
    pump();
  });
  assertPromError(err, 'PROMETHEUS_QUERY', /sent an answer larger than 64 MiB: not read/, 200);
  await serverSawClose;
  // the client hung up near the cap (socket buffers hold a few MB more), not after the 256 MiB
  assert.ok(sent < MAX_ANSWER_BYTES + 16 * 1024 * 1024, `server wrote ${sent} bytes`);
});

test('an announced Content-Length over the cap is refused before the body is read', async () => {
  const err = await queryWith((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(MAX_ANSWER_BYTES + 1) });
    res.write('{'); // and never more: the client must not wait for the rest
  }, { timeoutMs: 10_000 });
  assertPromError(err, 'PROMETHEUS_QUERY', /sent an answer larger than 64 MiB/, 200);
});
