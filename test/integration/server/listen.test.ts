/**
 * The web server with real certificates made by openssl in the test (CA, server, client, a rogue
 * CA), real TLS handshakes and real bcrypt hashes.
 */
import assert from 'node:assert/strict';
import { copyFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { connect as netConnect } from 'node:net';
import { join } from 'node:path';
import type { PeerCertificate, TLSSocket } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { createLogger } from '../../../src/log.js';
import { BasicAuth, type ExporterServer, listen, type ServerLimits } from '../../../src/server/listen.js';
import { WebConfigError } from '../../../src/server/web-config.js';
import { waitFor } from '../../helpers/exporter-process.js';
import { makePki, type Issued, type Pki } from '../../helpers/pki.js';

let pki: Pki;
let rogue: Pki;
let server: Issued;
let serverB: Issued;
let client: Issued;
let clientOtherSan: Issued;
let rogueClient: Issued;
let selfSigned: Issued;
const HASH = bcrypt.hashSync('s3cret', 4);
const HASH2 = bcrypt.hashSync('n3w', 4);

before(() => {
  pki = makePki();
  rogue = makePki('rogue CA');
  server = pki.issue('server', { cn: 'localhost', san: 'IP:127.0.0.1,DNS:localhost', usage: 'serverAuth' });
  serverB = pki.issue('server-b', { cn: 'localhost', san: 'IP:127.0.0.1,DNS:localhost', usage: 'serverAuth' });
  client = pki.issue('client', { cn: 'prometheus', san: 'DNS:prometheus.test,email:ops@example.com', usage: 'clientAuth' });
  clientOtherSan = pki.issue('client-other', { cn: 'other', san: 'DNS:other.test', usage: 'clientAuth' });
  rogueClient = rogue.issue('client', { cn: 'prometheus', san: 'DNS:prometheus.test', usage: 'clientAuth' });
  selfSigned = pki.issue('self', { cn: 'self', san: 'DNS:prometheus.test', usage: 'clientAuth', selfSigned: true });
});
after(() => {
  pki.cleanup();
  rogue.cleanup();
});

interface Started {
  server: ExporterServer;
  port: number;
  logs: string[];
  close(): Promise<void>;
}

async function start(webConfig: string | undefined, limits?: Partial<ServerLimits>): Promise<Started> {
  const logs: string[] = [];
  let file: string | undefined;
  if (webConfig !== undefined) {
    file = join(pki.dir, `web-${Math.random().toString(36).slice(2)}.yml`);
    writeFileSync(file, webConfig);
  }
  const s = await listen({
    host: '127.0.0.1',
    port: 0,
    webConfigFile: file,
    handler: (req, res) => {
      res.setHeader('Content-Type', 'text/plain');
      res.end(`ok ${req.method} ${req.url}\n`);
    },
    log: createLogger({ level: 'debug', write: (line) => logs.push(line) }),
    limits,
  });
  return {
    server: s,
    port: (s.address() as AddressInfo).port,
    logs,
    close: () => {
      s.closeAllConnections();
      return new Promise((resolve) => s.close(() => resolve()));
    },
  };
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  peer: PeerCertificate | undefined;
  /** OpenSSL name of the negotiated cipher suite, and the protocol */
  cipher: string | undefined;
  protocol: string | undefined;
  /** key exchange group, e.g. secp384r1 */
  ecdh: string | undefined;
}

function get(port: number, opts: { tls?: boolean; user?: string; password?: string; cert?: Issued; maxVersion?: 'TLSv1.2'; headers?: Record<string, string> } = {}): Promise<Reply> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.user !== undefined) headers.Authorization = `Basic ${Buffer.from(`${opts.user}:${opts.password ?? ''}`).toString('base64')}`;
  return new Promise((resolve, reject) => {
    let peer: PeerCertificate | undefined;
    let cipher: string | undefined;
    let protocol: string | undefined;
    let ecdh: string | undefined;
    const onResponse = (res: http.IncomingMessage): void => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, peer, cipher, protocol, ecdh }));
    };
    const req = opts.tls
      ? https.request(
          {
            host: '127.0.0.1',
            port,
            path: '/metrics',
            headers,
            agent: false,
            ca: readPem(pki.ca.cert),
            ...(opts.cert && { cert: readPem(opts.cert.cert), key: readPem(opts.cert.key) }),
            ...(opts.maxVersion && { maxVersion: opts.maxVersion }),
          },
          onResponse,
        )
      : http.request({ host: '127.0.0.1', port, path: '/metrics', headers, agent: false }, onResponse);
    req.on('socket', (socket) => {
      socket.on('secureConnect', () => {
        peer = (socket as TLSSocket).getPeerCertificate();
        cipher = (socket as TLSSocket).getCipher().name;
        protocol = (socket as TLSSocket).getProtocol() ?? undefined;
        const key = (socket as TLSSocket).getEphemeralKeyInfo();
        ecdh = key && 'name' in key ? key.name : undefined;
      });
    });
    req.on('error', reject);
    req.end();
  });
}

const readPem = (file: string) => readFileSync(file, 'utf8');

const tlsConfig = (extra = '') => `tls_server_config:\n  cert_file: ${server.cert}\n  key_file: ${server.key}\n${extra}`;

describe('basic auth', () => {
  test('no, wrong or unknown credentials get 401 with WWW-Authenticate; the right ones get through', async () => {
    const s = await start(`basic_auth_users:\n  prometheus: ${HASH}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n`);
    try {
      for (const creds of [{}, { user: 'prometheus', password: 'wrong' }, { user: 'nobody', password: 's3cret' }, { user: 'prometheus', password: '' }]) {
        const r = await get(s.port, creds);
        assert.equal(r.status, 401, JSON.stringify(creds));
        assert.match(String(r.headers['www-authenticate']), /^Basic realm="procgroup-exporter"/);
        assert.equal(r.headers['x-frame-options'], 'deny', 'configured headers are on refusals too');
        assert.equal(r.body, 'Unauthorized\n');
      }
      const bad = await get(s.port, { headers: { Authorization: 'Basic !!!notbase64' } });
      assert.equal(bad.status, 401);
      const ok = await get(s.port, { user: 'prometheus', password: 's3cret' });
      assert.equal(ok.status, 200);
      assert.equal(ok.body, 'ok GET /metrics\n');
      assert.equal(ok.headers['x-frame-options'], 'deny');
    } finally {
      await s.close();
    }
  });

  test('bcrypt runs on a thread started by the first check and stopped when the server closes', async () => {
    const threads = () => readdirSync('/proc/self/task').length;
    const s = await start(`basic_auth_users:\n  prometheus: ${HASH}\n`);
    const before = threads();
    try {
      assert.equal((await get(s.port, { user: 'prometheus', password: 's3cret' })).status, 200);
      assert.equal(threads(), before + 1, 'one bcrypt thread');
    } finally {
      await s.close();
    }
    await waitFor('the bcrypt thread to stop', () => (threads() === before ? true : undefined), 5000);
  });

  test('bcrypt runs once per credential, not per request; unknown users cost a bcrypt too', async () => {
    const calls: string[] = [];
    const auth = new BasicAuth({
      compare: (password, hash) => {
        calls.push(password);
        return bcrypt.compare(password, hash);
      },
    });
    const users = new Map([['prometheus', HASH]]);
    const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
    assert.equal(await auth.check(basic('prometheus', 's3cret'), users), true);
    assert.equal(await auth.check(basic('prometheus', 's3cret'), users), true);
    assert.equal(await auth.check(basic('prometheus', 'nope'), users), false);
    assert.equal(await auth.check(basic('prometheus', 'nope'), users), false);
    assert.equal(await auth.check(basic('ghost', 's3cret'), users), false);
    assert.deepEqual(calls, ['s3cret', 'nope', 's3cret']);
    // a changed hash for the same user is checked anew
    assert.equal(await auth.check(basic('prometheus', 's3cret'), new Map([['prometheus', HASH2]])), false);
    assert.equal(calls.length, 4);
    // concurrent checks of one new credential run bcrypt once
    calls.length = 0;
    const results = await Promise.all([1, 2, 3].map(() => auth.check(basic('prometheus', 'n3w'), new Map([['prometheus', HASH2]]))));
    assert.deepEqual(results, [true, true, true]);
    assert.deepEqual(calls, ['n3w']);
  });

  test('uncached checks beyond the queue limit are refused as busy, cached ones still pass', async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => (release = r));
    const auth = new BasicAuth({ maxPending: 2, compare: async (p, h) => { await gate; return bcrypt.compare(p, h); } });
    const users = new Map([['u', HASH]]);
    const basic = (p: string) => `Basic ${Buffer.from(`u:${p}`).toString('base64')}`;
    const first = auth.check(basic('a'), users);
    const second = auth.check(basic('b'), users);
    assert.equal(await auth.check(basic('c'), users), 'busy');
    release();
    assert.deepEqual(await Promise.all([first, second]), [false, false]);
    assert.equal(await auth.check(basic('s3cret'), users), true);
  });
});

describe('TLS', () => {
  test('serves the configured certificate; TLS 1.2 refused with min_version TLS13', async () => {
    const s = await start(tlsConfig('  min_version: TLS13\n'));
    try {
      const r = await get(s.port, { tls: true });
      assert.equal(r.status, 200);
      assert.equal(r.peer?.fingerprint256, server.fingerprint256);
      await assert.rejects(get(s.port, { tls: true, maxVersion: 'TLSv1.2' }));
      await assert.rejects(get(s.port), 'plain HTTP to a TLS port gets no HTTP answer');
    } finally {
      await s.close();
    }
  });

  test('cipher_suites and curve_preferences (Go names) take effect for TLS 1.2; TLS 1.3 is unaffected', async () => {
    const s = await start(tlsConfig('  cipher_suites: [TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256]\n  curve_preferences: [CurveP384]\n'));
    try {
      const r12 = await get(s.port, { tls: true, maxVersion: 'TLSv1.2' });
      assert.equal(r12.status, 200);
      assert.equal(r12.protocol, 'TLSv1.2');
      assert.equal(r12.cipher, 'ECDHE-ECDSA-CHACHA20-POLY1305');
      assert.equal(r12.ecdh, 'secp384r1');
      const r13 = await get(s.port, { tls: true });
      assert.equal(r13.protocol, 'TLSv1.3');
      assert.match(r13.cipher ?? '', /^TLS_/);
    } finally {
      await s.close();
    }
  });

  test('RequireAndVerifyClientCert: no certificate or one from another CA is refused', async () => {
    const s = await start(tlsConfig(`  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ${pki.ca.cert}\n`));
    try {
      await assert.rejects(get(s.port, { tls: true }));
      await assert.rejects(get(s.port, { tls: true, cert: rogueClient }));
      await assert.rejects(get(s.port, { tls: true, cert: selfSigned }));
      assert.equal((await get(s.port, { tls: true, cert: client })).status, 200);
    } finally {
      await s.close();
    }
  });

  test('RequireAnyClientCert: any certificate, but one is needed', async () => {
    const s = await start(tlsConfig('  client_auth_type: RequireAnyClientCert\n'));
    try {
      await assert.rejects(get(s.port, { tls: true }));
      assert.equal((await get(s.port, { tls: true, cert: selfSigned })).status, 200);
      assert.equal((await get(s.port, { tls: true, cert: rogueClient })).status, 200);
    } finally {
      await s.close();
    }
  });

  test('VerifyClientCertIfGiven: none is fine, an untrusted one is refused', async () => {
    const s = await start(tlsConfig(`  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ${pki.ca.cert}\n`));
    try {
      assert.equal((await get(s.port, { tls: true })).status, 200);
      assert.equal((await get(s.port, { tls: true, cert: client })).status, 200);
      await assert.rejects(get(s.port, { tls: true, cert: rogueClient }));
    } finally {
      await s.close();
    }
  });

  test('client_allowed_sans: a trusted certificate without an allowed SAN is refused', async () => {
    const s = await start(tlsConfig(`  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ${pki.ca.cert}\n  client_allowed_sans: [ops@example.com]\n`));
    try {
      assert.equal((await get(s.port, { tls: true, cert: client })).status, 200);
      await assert.rejects(get(s.port, { tls: true, cert: clientOtherSan }));
    } finally {
      await s.close();
    }
  });

  test('client certificate and basic auth together: a valid certificate with a wrong password gets 401', async () => {
    const s = await start(tlsConfig(`  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ${pki.ca.cert}\nbasic_auth_users:\n  prometheus: ${HASH}\n`));
    try {
      assert.equal((await get(s.port, { tls: true, cert: client, user: 'prometheus', password: 'bad' })).status, 401);
      assert.equal((await get(s.port, { tls: true, cert: client, user: 'prometheus', password: 's3cret' })).status, 200);
      await assert.rejects(get(s.port, { tls: true, user: 'prometheus', password: 's3cret' }));
    } finally {
      await s.close();
    }
  });
});

describe('changes without restart', () => {
  test('a rotated certificate is served from the next connection on; a half-done rotation keeps the old one', async () => {
    const live = { cert: join(pki.dir, 'live.crt'), key: join(pki.dir, 'live.key') };
    copyFileSync(server.cert, live.cert);
    copyFileSync(server.key, live.key);
    const s = await start(`tls_server_config:\n  cert_file: live.crt\n  key_file: live.key\n`);
    try {
      assert.equal((await get(s.port, { tls: true })).peer?.fingerprint256, server.fingerprint256);
      // only the certificate replaced: it does not match the key, so the old pair stays in use
      writeFileSync(live.cert, readFileSync(serverB.cert));
      assert.equal((await get(s.port, { tls: true })).peer?.fingerprint256, server.fingerprint256);
      assert.ok(s.logs.some((l) => /level=error msg="web config changed but cannot be used, keeping the last good one".*tls_server_config\.key_file: cannot use the certificate and key: .*mismatch/.test(l)), s.logs.join(''));
      pki.install(serverB, live);
      assert.equal((await get(s.port, { tls: true })).peer?.fingerprint256, serverB.fingerprint256);
      pki.install(server, live);
      assert.equal((await get(s.port, { tls: true })).peer?.fingerprint256, server.fingerprint256);
    } finally {
      await s.close();
    }
  });

  test('changed users apply at once; a broken or restart-needing change keeps the last good config', async () => {
    const s = await start(`basic_auth_users:\n  prometheus: ${HASH}\n`);
    const file = join(pki.dir, readdirWeb(s));
    try {
      assert.equal((await get(s.port, { user: 'prometheus', password: 's3cret' })).status, 200);
      writeFileSync(file, `basic_auth_users:\n  prometheus: ${HASH2}\n`);
      assert.equal((await get(s.port, { user: 'prometheus', password: 's3cret' })).status, 401);
      assert.equal((await get(s.port, { user: 'prometheus', password: 'n3w' })).status, 200);
      writeFileSync(file, `basic_auth_users:\n  prometheus: ${HASH}\n  typo_key: [\n`);
      assert.equal((await get(s.port, { user: 'prometheus', password: 'n3w' })).status, 200);
      writeFileSync(file, tlsConfig());
      assert.equal((await get(s.port, { user: 'prometheus', password: 'n3w' })).status, 200);
      const errors = s.logs.filter((l) => l.includes('level=error'));
      assert.equal(errors.length, 2, errors.join(''));
      assert.match(errors[0] ?? '', /web-\w+\.yml:\d+:\d+: YAML: /);
      assert.match(errors[1] ?? '', /switching TLS on or off needs a restart/);
      // unchanged files are not parsed again: one reload for the one good change
      assert.equal(s.logs.filter((l) => l.includes('msg="web config reloaded"')).length, 1);
    } finally {
      await s.close();
    }
  });
});

/** the web config file a started server reads (the only web-*.yml written since its start) */
function readdirWeb(s: Started): string {
  const line = s.logs.find((l) => l.includes('web server ready')) ?? '';
  const m = /web_config=(\S+)/.exec(line);
  return (m?.[1] ?? '').split('/').at(-1) ?? '';
}

describe('start-up errors', () => {
  test('an unreadable certificate, a key that does not match, or bad PEM name the field and position', async () => {
    await assert.rejects(start(`tls_server_config:\n  cert_file: missing.crt\n  key_file: ${server.key}\n`), (err: unknown) => {
      assert.ok(err instanceof WebConfigError);
      assert.match(err.message, /web-\w+\.yml:2:14: tls_server_config\.cert_file: cannot read .*missing\.crt: ENOENT/);
      return true;
    });
    await assert.rejects(start(`tls_server_config:\n  cert_file: ${server.cert}\n  key_file: ${client.key}\n`), (err: unknown) => {
      assert.ok(err instanceof WebConfigError);
      assert.match(err.message, /:3:13: tls_server_config\.key_file: cannot use the certificate and key: .*key values mismatch/);
      return true;
    });
    await assert.rejects(start(`tls_server_config:\n  cert: not a pem\n  key_file: ${server.key}\n`), (err: unknown) => {
      assert.ok(err instanceof WebConfigError);
      assert.match(err.message, /:2:9: tls_server_config\.cert: no PEM certificate found/);
      assert.ok(!err.message.includes('PRIVATE KEY'));
      return true;
    });
  });
});

describe('limits', () => {
  test('a large declared body gets 413, large headers 431, slow headers 408', async () => {
    const s = await start(undefined, { maxBodyBytes: 1000, maxHeaderBytes: 4096, headersTimeoutMs: 1500, requestTimeoutMs: 3000 });
    try {
      const big = await rawRequest(s.port, 'POST /-/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n');
      assert.match(big, /^HTTP\/1\.1 413 /);
      const hdr = await rawRequest(s.port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(8000)}\r\n\r\n`);
      assert.match(hdr, /^HTTP\/1\.1 431 /);
      const slow = await rawRequest(s.port, 'GET / HTTP/1.1\r\nHost: x\r\n');
      assert.match(slow, /^HTTP\/1\.1 408 /);
      assert.equal((await get(s.port)).status, 200);
    } finally {
      await s.close();
    }
  });
});

/** sends raw bytes and resolves with everything read until the server closes (or 10 s) */
function rawRequest(port: number, data: string): Promise<string> {
  return new Promise((resolve) => {
    const sock = netConnect(port, '127.0.0.1', () => sock.write(data));
    let out = '';
    const timer = setTimeout(() => sock.destroy(), 10_000);
    sock.setEncoding('utf8');
    sock.on('data', (c: string) => (out += c));
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    sock.on('error', () => undefined);
  });
}
