import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseWebConfig, WebConfigError } from '../../../src/server/web-config.js';

const HASH = '$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi';

/** the problems of a rejected config, as "line:column field: message" */
function problems(text: string): string[] {
  try {
    parseWebConfig(text, '/etc/pge/web.yml');
  } catch (err) {
    assert.ok(err instanceof WebConfigError, `expected WebConfigError, got ${String(err)}`);
    assert.equal(err.code, 'WEB_CONFIG_INVALID');
    for (const p of err.problems) assert.equal(p.file, '/etc/pge/web.yml');
    return err.problems.map((p) => `${p.line}:${p.column} ${p.field}: ${p.message}`);
  }
  assert.fail('config was accepted');
}

test('a full exporter-toolkit config is read, with Go names mapped to OpenSSL ones', () => {
  const c = parseWebConfig(
    `tls_server_config:
  cert_file: server.crt
  key_file: /abs/server.key
  client_auth_type: RequireAndVerifyClientCert
  client_ca_file: ca.crt
  client_allowed_sans: [prometheus.example, "spiffe://cluster/ns/monitoring"]
  min_version: TLS12
  max_version: TLS13
  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, TLS_AES_128_GCM_SHA256]
  curve_preferences: [X25519, CurveP256]
  prefer_server_cipher_suites: false
http_server_config:
  http2: true
  headers:
    X-Frame-Options: deny
    Strict-Transport-Security: max-age=31536000
basic_auth_users:
  prometheus: ${HASH}
  "grafana agent": ${HASH.replace('2y', '2b')}
`,
    '/etc/pge/web.yml',
  );
  assert.ok(c.tls);
  assert.deepEqual(c.tls.cert, { path: 'server.crt', at: { file: '/etc/pge/web.yml', line: 2, column: 14, field: 'tls_server_config.cert_file' } });
  assert.ok('path' in c.tls.key && c.tls.key.path === '/abs/server.key');
  assert.equal(c.tls.clientAuth, 'RequireAndVerifyClientCert');
  assert.deepEqual(c.tls.clientAllowedSans, ['prometheus.example', 'spiffe://cluster/ns/monitoring']);
  assert.equal(c.tls.minVersion, 'TLSv1.2');
  assert.equal(c.tls.maxVersion, 'TLSv1.3');
  assert.equal(c.tls.ciphers, 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:ECDHE-RSA-AES128-GCM-SHA256');
  assert.equal(c.tls.ecdhCurve, 'X25519:P-256');
  assert.equal(c.tls.honorCipherOrder, false);
  assert.deepEqual([...c.headers], [['X-Frame-Options', 'deny'], ['Strict-Transport-Security', 'max-age=31536000']]);
  assert.deepEqual([...c.users.keys()], ['prometheus', 'grafana agent']);
});

test('an empty file, or only users, means plain HTTP', () => {
  for (const text of ['', '# nothing\n', '{}\n', 'tls_server_config:\nhttp_server_config:\n']) {
    const c = parseWebConfig(text, 'w.yml');
    assert.equal(c.tls, undefined);
    assert.equal(c.users.size, 0);
  }
  const c = parseWebConfig(`basic_auth_users:\n  u: ${HASH}\n`, 'w.yml');
  assert.equal(c.tls, undefined);
  assert.equal(c.users.get('u'), HASH);
});

test('inline PEM and the toolkit defaults', () => {
  const c = parseWebConfig('tls_server_config:\n  cert: |\n    -----BEGIN CERTIFICATE-----\n  key: "k"\n', 'w.yml');
  assert.ok(c.tls && 'pem' in c.tls.cert);
  assert.equal(c.tls.cert.pem, '-----BEGIN CERTIFICATE-----\n');
  assert.equal(c.tls.clientAuth, 'NoClientCert');
  assert.equal(c.tls.ciphers, 'TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256:TLS_AES_128_GCM_SHA256:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305', 'forward secrecy and AEAD only, as Go');
  assert.equal(c.tls.honorCipherOrder, true);
  assert.equal(parseWebConfig('tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireClientCert\n', 'w.yml').tls?.clientAuth, 'RequireAnyClientCert');
});

test('unknown and misspelt keys are errors at their line and column', () => {
  assert.deepEqual(problems('tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth: RequestClientCert\nbasic_auth_user:\n  x: y\n'), [
    '4:3 tls_server_config.client_auth: unknown key "client_auth" (allowed keys: cert_file, key_file, cert, key, client_auth_type, client_ca_file, client_ca, client_allowed_sans, cipher_suites, curve_preferences, min_version, max_version, prefer_server_cipher_suites)',
    '5:1 basic_auth_user: unknown key "basic_auth_user" (allowed keys: tls_server_config, http_server_config, basic_auth_users)',
  ]);
  assert.deepEqual(problems('http_server_config:\n  http3: true\n'), ['2:3 http_server_config.http3: unknown key "http3" (allowed keys: http2, headers)']);
  assert.match(problems('rate_limit:\n  burst: 5\n')[0] ?? '', /^1:1 rate_limit: rate_limit is not supported/);
});

test('TLS problems name the field', () => {
  const tls = (body: string) => problems(`tls_server_config:\n  cert_file: c\n  key_file: k\n${body}`);
  assert.deepEqual(tls('  client_auth_type: VerifyAlways\n'), [
    '4:21 tls_server_config.client_auth_type: must be one of NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert, got "VerifyAlways"',
  ]);
  assert.deepEqual(tls('  client_ca_file: ca\n'), ['4:3 tls_server_config.client_ca_file: client CA configured without a client_auth_type that asks for client certificates']);
  assert.deepEqual(tls('  client_auth_type: RequireAndVerifyClientCert\n'), [
    '4:21 tls_server_config.client_auth_type: RequireAndVerifyClientCert needs client_ca_file (or client_ca) naming the CA that issues client certificates',
  ]);
  assert.deepEqual(tls('  client_auth_type: RequestClientCert\n  client_allowed_sans: [a]\n'), [
    '5:3 tls_server_config.client_allowed_sans: needs client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert',
  ]);
  assert.deepEqual(tls('  min_version: TLS10\n'), ['4:16 tls_server_config.min_version: TLS10 is not supported (OpenSSL 3 disables TLS 1.0 and 1.1): use TLS12 or TLS13']);
  assert.deepEqual(tls('  min_version: TLS13\n  max_version: TLS12\n'), ['5:16 tls_server_config.max_version: is lower than min_version']);
  assert.deepEqual(tls('  max_version: SSL3\n'), ['4:16 tls_server_config.max_version: must be TLS12 or TLS13, got "SSL3"']);
  assert.match(tls('  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n')[0] ?? '', /^4:19 tls_server_config.cipher_suites\[0\]: unknown cipher suite "TLS_RSA_WITH_RC4_128_SHA" \(known: /);
  assert.deepEqual(tls('  cipher_suites: [TLS_AES_128_GCM_SHA256]\n'), [
    '4:3 tls_server_config.cipher_suites: lists no TLS 1.2 suite, so TLS 1.2 clients could not connect (TLS 1.3 suites are not configurable)',
  ]);
  assert.deepEqual(tls('  curve_preferences: [CurveP224]\n'), ['4:23 tls_server_config.curve_preferences[0]: unknown curve "CurveP224" (known: CurveP256, CurveP384, CurveP521, X25519)']);
  assert.deepEqual(tls('  prefer_server_cipher_suites: yes\n'), ['4:32 tls_server_config.prefer_server_cipher_suites: must be true or false (write true or false)']);
  assert.deepEqual(tls('  cert: inline\n'), ['4:3 tls_server_config.cert: set either cert_file or cert, not both']);
  assert.deepEqual(problems('tls_server_config:\n  cert_file: c\n'), ['1:1 tls_server_config: missing one of key_file or key']);
  assert.deepEqual(problems('tls_server_config:\n  client_auth_type: RequestClientCert\n'), [
    '1:1 tls_server_config: missing one of cert_file or cert',
    '1:1 tls_server_config: missing one of key_file or key',
  ]);
  assert.deepEqual(problems('tls_server_config:\n  min_version: TLS13\n'), ['2:3 tls_server_config.min_version: has no effect without cert_file and key_file (TLS is off)']);
  assert.deepEqual(problems('tls_server_config:\n  cert_file: [a]\n  key_file: k\n'), ['1:1 tls_server_config: missing one of cert_file or cert', '2:14 tls_server_config.cert_file: must be a string']);
});

test('users need bcrypt hashes; the message never echoes the value', () => {
  const out = problems('basic_auth_users:\n  alice: hunter2\n  "a:b": ' + HASH + '\n  carol: $2x$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi\n  dave: $2y$03$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi\n');
  assert.equal(out.length, 4);
  assert.match(out[0] ?? '', /^2:10 basic_auth_users\["alice"\]: must be a bcrypt hash/);
  assert.match(out[1] ?? '', /^3:3 basic_auth_users\["a:b"\]: user names must be non-empty and cannot contain ":"/);
  assert.match(out[2] ?? '', /^4:10 basic_auth_users\["carol"\]: must be a bcrypt hash/);
  assert.match(out[3] ?? '', /^5:9 basic_auth_users\["dave"\]: must be a bcrypt hash/);
  assert.ok(!out.join('\n').includes('hunter2'));
  assert.deepEqual(problems('basic_auth_users: [alice]\n'), ['1:19 basic_auth_users: must be a mapping']);
});

test('headers are limited to the toolkit security headers and their values', () => {
  assert.deepEqual(problems('http_server_config:\n  headers:\n    Server: nginx\n    X-Content-Type-Options: sniff\n    X-Frame-Options: deny\n'), [
    '3:5 http_server_config.headers.Server: HTTP header "Server" can not be configured (allowed: Strict-Transport-Security, X-Content-Type-Options, X-Frame-Options, X-XSS-Protection, Content-Security-Policy)',
    '4:29 http_server_config.headers.X-Content-Type-Options: must be one of "nosniff", got "sniff"',
  ]);
  assert.deepEqual(problems('http_server_config:\n  headers:\n    Content-Security-Policy: "a\\nb"\n'), ['3:30 http_server_config.headers.Content-Security-Policy: must not contain control characters']);
});

test('YAML errors and a top level that is not a mapping', () => {
  assert.deepEqual(problems('tls_server_config:\n  cert_file: a\n  cert_file: b\n'), ['3:3 : YAML: Map keys must be unique']);
  assert.deepEqual(problems('- a\n- b\n'), ['1:1 : must be a mapping']);
  assert.match(problems('tls_server_config: {\n')[0] ?? '', /^\d+:\d+ : YAML: /);
});

test('fuzz: any text gives a WebConfig or a WebConfigError with positions', () => {
  const fragments = [
    'tls_server_config:', 'http_server_config:', 'basic_auth_users:', '  cert_file: a', '  key_file: b', '  cert: x', '  key: y',
    '  client_auth_type: RequireAndVerifyClientCert', '  client_ca_file: c', '  client_allowed_sans: [a]', '  min_version: TLS13',
    '  cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]', '  headers:', '    X-Frame-Options: deny', `  u: ${HASH}`,
    '  - x', '&a', '*a', '<<: *a', '{', '}', '[', ']', ':', '"', "'", '#', '\t', '  ', '\n', '? ', '!!binary', '---', '...',
  ];
  const yamlish = fc.array(fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...fragments) }, fc.string({ maxLength: 6 })), { maxLength: 30 }).map((p) => p.join('\n'));
  fc.assert(
    fc.property(fc.oneof(yamlish, fc.string(), fc.string({ unit: 'binary' })), (text) => {
      try {
        const c = parseWebConfig(text, 'fuzz.yml');
        assert.ok(c.headers instanceof Map && c.users instanceof Map);
      } catch (err) {
        assert.ok(err instanceof WebConfigError, `unexpected ${String(err)}`);
        assert.ok(err.problems.length > 0);
        for (const p of err.problems) {
          assert.equal(p.file, 'fuzz.yml');
          assert.ok(Number.isInteger(p.line) && p.line >= 1 && Number.isInteger(p.column) && p.column >= 1, JSON.stringify(p));
        }
      }
    }),
    { numRuns: 2000 },
  );
});
