/**
 * -web.config.file, in the Prometheus exporter-toolkit format (the file process-exporter,
 * node_exporter and Prometheus itself read), parsed and validated without touching the disk:
 *
 *   tls_server_config:
 *     cert_file: server.crt              # or `cert:` with the PEM inline; relative to this file
 *     key_file: server.key               # or `key:`
 *     client_auth_type: RequireAndVerifyClientCert
 *     client_ca_file: ca.crt             # or `client_ca:`
 *     client_allowed_sans: [prometheus.example]
 *     min_version: TLS12                 # TLS12 (default) or TLS13
 *     max_version: TLS13
 *     cipher_suites: [TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256]   # Go names, TLS 1.2 only
 *     curve_preferences: [X25519, CurveP256]
 *     prefer_server_cipher_suites: true
 *   http_server_config:
 *     http2: true                        # accepted; this server speaks HTTP/1.1
 *     headers: {X-Frame-Options: deny}
 *   basic_auth_users:
 *     prometheus: $2y$10$...             # bcrypt hash (htpasswd -nBC 10 "" | tr -d ':\n')
 *
 * Unknown keys are errors (as with the toolkit's strict decoding); every problem names
 * file:line:column and the field. Reading the certificates is listen.ts's job.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode, type Pair } from 'yaml';
import { ExporterError, formatProblem, type ConfigProblem } from '../errors.js';

export class WebConfigError extends ExporterError {
  readonly problems: readonly ConfigProblem[];
  constructor(problems: readonly ConfigProblem[], options?: { cause?: unknown }) {
    super('WEB_CONFIG_INVALID', problems.map(formatProblem).join('\n'), options);
    this.problems = problems;
  }
}

export type ClientAuthType =
  | 'NoClientCert'
  | 'RequestClientCert'
  | 'RequireAnyClientCert'
  | 'VerifyClientCertIfGiven'
  | 'RequireAndVerifyClientCert';

const CLIENT_AUTH_TYPES: readonly ClientAuthType[] = [
  'NoClientCert', 'RequestClientCert', 'RequireAnyClientCert', 'VerifyClientCertIfGiven', 'RequireAndVerifyClientCert',
];

/** Where a value was written, so errors found later (unreadable file, bad PEM) point at it. */
export interface Position {
  file: string;
  line: number;
  column: number;
  field: string;
}

/** PEM text given inline, or a file (absolute, or relative to the web config's directory). */
export type PemSource = { path: string; at: Position } | { pem: string; at: Position };

export interface TlsSettings {
  cert: PemSource;
  key: PemSource;
  clientCa: PemSource | undefined;
  clientAuth: ClientAuthType;
  clientAllowedSans: readonly string[] | undefined;
  minVersion: 'TLSv1.2' | 'TLSv1.3';
  maxVersion: 'TLSv1.2' | 'TLSv1.3';
  /** OpenSSL cipher list (TLS 1.3 suites first, unchanged, as Go does not configure them) */
  ciphers: string;
  /** OpenSSL curve list, e.g. "X25519:P-256"; undefined: defaults */
  ecdhCurve: string | undefined;
  honorCipherOrder: boolean;
}

export interface WebConfig {
  file: string;
  tls: TlsSettings | undefined;
  /** extra response headers (only the toolkit's security headers are allowed) */
  headers: ReadonlyMap<string, string>;
  /** user -> bcrypt hash; empty: no authentication */
  users: ReadonlyMap<string, string>;
}

/** Go crypto/tls names of tls.CipherSuites() -> OpenSSL names. */
const TLS12_CIPHERS: Readonly<Record<string, string>> = {
  TLS_RSA_WITH_AES_128_CBC_SHA: 'AES128-SHA',
  TLS_RSA_WITH_AES_256_CBC_SHA: 'AES256-SHA',
  TLS_RSA_WITH_AES_128_GCM_SHA256: 'AES128-GCM-SHA256',
  TLS_RSA_WITH_AES_256_GCM_SHA384: 'AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA: 'ECDHE-ECDSA-AES128-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA: 'ECDHE-ECDSA-AES256-SHA',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA: 'ECDHE-RSA-AES128-SHA',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA: 'ECDHE-RSA-AES256-SHA',
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
};
/**
 * Without cipher_suites: forward secrecy and AEAD only (ECDHE with AES-GCM or ChaCha20-Poly1305),
 * as Go's defaults without the legacy CBC suites; OpenSSL's own default adds RSA key exchange,
 * CBC, CCM and ARIA suites.
 */
const DEFAULT_TLS12_CIPHERS = [
  'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
  'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384', 'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256',
];
/** Go lists these too but never lets a config choose them; neither do we. */
const TLS13_CIPHERS = ['TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_AES_128_GCM_SHA256'];

const CURVES: Readonly<Record<string, string>> = { CurveP256: 'P-256', CurveP384: 'P-384', CurveP521: 'P-521', X25519: 'X25519' };

const TLS_VERSIONS: Readonly<Record<string, 'TLSv1.2' | 'TLSv1.3' | undefined>> = { TLS12: 'TLSv1.2', TLS13: 'TLSv1.3', TLS10: undefined, TLS11: undefined };

/** The toolkit's allowed headers and, where it restricts them, their values. */
const EXTRA_HEADERS: ReadonlyMap<string, readonly string[] | undefined> = new Map([
  ['Strict-Transport-Security', undefined],
  ['X-Content-Type-Options', ['nosniff']],
  ['X-Frame-Options', ['deny', 'sameorigin']],
  ['X-XSS-Protection', undefined],
  ['Content-Security-Policy', undefined],
]);

// $2a$/$2b$/$2y$ (Go's bcrypt and bcryptjs read all three), cost 04..31, 22 chars salt + 31 chars hash
const BCRYPT_HASH = /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/;

const TOP_KEYS = ['tls_server_config', 'http_server_config', 'basic_auth_users'];
const TLS_KEYS = [
  'cert_file', 'key_file', 'cert', 'key', 'client_auth_type', 'client_ca_file', 'client_ca', 'client_allowed_sans',
  'cipher_suites', 'curve_preferences', 'min_version', 'max_version', 'prefer_server_cipher_suites',
];
const HTTP_KEYS = ['http2', 'headers'];
/** toolkit keys this exporter does not implement: named, so the error says so instead of "unknown key" */
const UNSUPPORTED: Readonly<Record<string, string>> = {
  rate_limit: 'rate_limit is not supported by procgroup-exporter (remove it; scrapes are single-flight and bcrypt checks are cached)',
};

type Value = YamlNode | null | undefined;

class Checker {
  readonly problems: ConfigProblem[] = [];
  constructor(
    readonly file: string,
    private readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
  ) {}

  at(node: Value | Pair['key'], field: string): Position {
    const offset = node && typeof node === 'object' && 'range' in node && Array.isArray(node.range) ? (node.range[0] as number) : 0;
    const { line, col } = this.lines.linePos(offset);
    return { file: this.file, line: Math.max(line, 1), column: Math.max(col, 1), field };
  }

  problem(node: Value | Pair['key'], field: string, message: string): void {
    this.problems.push({ ...this.at(node, field), message });
  }

  deref(node: unknown): Value {
    const resolved = isAlias(node) ? node.resolve(this.doc) : node;
    return (resolved ?? null) as Value;
  }

  /** The pairs of a mapping, keyed by name; unknown keys reported. Empty (null) reads as {}. */
  mapping(node: Value, field: string, allowed: readonly string[] | undefined): Map<string, { key: Pair['key']; value: Value }> | undefined {
    const out = new Map<string, { key: Pair['key']; value: Value }>();
    node = this.deref(node);
    if (node === null || (isScalar(node) && node.value === null)) return out;
    if (!isMap(node)) {
      this.problem(node, field, 'must be a mapping');
      return undefined;
    }
    for (const pair of node.items) {
      const key = this.deref(pair.key);
      const name = isScalar(key) && typeof key.value === 'string' ? key.value : undefined;
      const keyField = field ? `${field}.${name ?? '?'}` : (name ?? '?');
      if (name === undefined) {
        this.problem(key, keyField, 'keys must be strings');
      } else if (allowed && UNSUPPORTED[name] !== undefined) {
        this.problem(key, keyField, UNSUPPORTED[name]);
      } else if (allowed && !allowed.includes(name)) {
        this.problem(key, keyField, `unknown key "${name}" (allowed keys: ${allowed.join(', ')})`);
      } else {
        out.set(name, { key, value: this.deref(pair.value) });
      }
    }
    return out;
  }

  string(node: Value, field: string): string | undefined {
    if (node === null || node === undefined || (isScalar(node) && node.value === null)) return undefined;
    if (isScalar(node) && typeof node.value === 'string') return node.value;
    this.problem(node, field, 'must be a string');
    return undefined;
  }

  bool(node: Value, field: string): boolean | undefined {
    if (node === null || node === undefined || (isScalar(node) && node.value === null)) return undefined;
    if (isScalar(node) && typeof node.value === 'boolean') return node.value;
    const hint = isScalar(node) && typeof node.value === 'string' && /^(y|yes|n|no|on|off)$/i.test(node.value) ? ' (write true or false)' : '';
    this.problem(node, field, `must be true or false${hint}`);
    return undefined;
  }

  strings(node: Value, field: string): { value: string; node: Value }[] | undefined {
    if (node === null || node === undefined || (isScalar(node) && node.value === null)) return undefined;
    if (!isSeq(node)) {
      this.problem(node, field, 'must be a list of strings');
      return undefined;
    }
    const out: { value: string; node: Value }[] = [];
    node.items.forEach((item, i) => {
      const n = this.deref(item);
      const s = this.string(n, `${field}[${i}]`);
      if (s !== undefined) out.push({ value: s, node: n });
    });
    return out;
  }
}

/** Parse and validate web config text; `file` names it in problems and anchors relative paths. */
export function parseWebConfig(text: string, file: string): WebConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const c = new Checker(file, doc, lines);
  const fail = (): never => {
    c.problems.sort((a, b) => a.line - b.line || a.column - b.column);
    throw new WebConfigError(c.problems);
  };
  for (const err of [...doc.errors, ...doc.warnings]) {
    const { line, col } = lines.linePos(err.pos[0]);
    c.problems.push({ file, line: Math.max(line, 1), column: Math.max(col, 1), field: '', message: `YAML: ${err.message.split('\n')[0]}` });
  }
  if (c.problems.length) fail();

  const top = c.mapping(doc.contents as Value, '', TOP_KEYS);
  const tlsNode = top?.get('tls_server_config');
  const httpNode = top?.get('http_server_config');
  const usersNode = top?.get('basic_auth_users');
  const config: WebConfig = {
    file,
    tls: tlsNode ? parseTls(c, tlsNode.key, tlsNode.value) : undefined,
    headers: httpNode ? parseHttp(c, httpNode.value) : new Map(),
    users: usersNode ? parseUsers(c, usersNode.value) : new Map(),
  };
  if (c.problems.length) fail();
  return config;
}

function parseTls(c: Checker, sectionKey: Pair['key'], node: Value): TlsSettings | undefined {
  const F = 'tls_server_config';
  const m = c.mapping(node, F, TLS_KEYS);
  if (!m) return undefined;
  const str = (k: string) => c.string(m.get(k)?.value, `${F}.${k}`);
  const source = (fileKey: string, inlineKey: string): PemSource | undefined => {
    const path = str(fileKey) || undefined;
    const pem = str(inlineKey) || undefined;
    if (path !== undefined && pem !== undefined) {
      c.problem(m.get(inlineKey)?.key, `${F}.${inlineKey}`, `set either ${fileKey} or ${inlineKey}, not both`);
    }
    if (path !== undefined) return { path, at: c.at(m.get(fileKey)?.value, `${F}.${fileKey}`) };
    if (pem !== undefined) return { pem, at: c.at(m.get(inlineKey)?.value, `${F}.${inlineKey}`) };
    return undefined;
  };
  const cert = source('cert_file', 'cert');
  const key = source('key_file', 'key');
  const clientCa = source('client_ca_file', 'client_ca');
  const authText = str('client_auth_type') || undefined;

  const enabled = cert !== undefined || key !== undefined || clientCa !== undefined || authText !== undefined;
  if (!enabled) {
    // the toolkit would serve plain HTTP and ignore these; say so instead
    for (const k of ['cipher_suites', 'curve_preferences', 'min_version', 'max_version', 'prefer_server_cipher_suites', 'client_allowed_sans']) {
      const entry = m.get(k);
      if (entry && entry.value !== null) c.problem(entry.key, `${F}.${k}`, 'has no effect without cert_file and key_file (TLS is off)');
    }
    return undefined;
  }
  if (!cert) c.problem(sectionKey, F, 'missing one of cert_file or cert');
  if (!key) c.problem(sectionKey, F, 'missing one of key_file or key');

  let clientAuth: ClientAuthType = 'NoClientCert';
  if (authText !== undefined) {
    // RequireClientCert: the toolkit's old name, still accepted there
    const normalized = authText === 'RequireClientCert' ? 'RequireAnyClientCert' : authText;
    if ((CLIENT_AUTH_TYPES as readonly string[]).includes(normalized)) clientAuth = normalized as ClientAuthType;
    else c.problem(m.get('client_auth_type')?.value, `${F}.client_auth_type`, `must be one of ${CLIENT_AUTH_TYPES.join(', ')}, got "${authText}"`);
  }
  const verifies = clientAuth === 'VerifyClientCertIfGiven' || clientAuth === 'RequireAndVerifyClientCert';
  if (clientCa && clientAuth === 'NoClientCert') {
    c.problem(m.get('client_ca_file')?.key ?? m.get('client_ca')?.key, `${F}.client_ca_file`, 'client CA configured without a client_auth_type that asks for client certificates');
  }
  if (verifies && !clientCa) {
    // Go would verify against the system roots, so any publicly issued certificate would pass
    c.problem(m.get('client_auth_type')?.value, `${F}.client_auth_type`, `${clientAuth} needs client_ca_file (or client_ca) naming the CA that issues client certificates`);
  }

  const sans = c.strings(m.get('client_allowed_sans')?.value, `${F}.client_allowed_sans`);
  if (sans && clientAuth !== 'RequireAnyClientCert' && clientAuth !== 'RequireAndVerifyClientCert') {
    c.problem(m.get('client_allowed_sans')?.key, `${F}.client_allowed_sans`, 'needs client_auth_type RequireAnyClientCert or RequireAndVerifyClientCert');
  }

  const version = (k: 'min_version' | 'max_version', def: 'TLSv1.2' | 'TLSv1.3'): 'TLSv1.2' | 'TLSv1.3' => {
    const text = str(k);
    if (text === undefined || text === '') return def;
    if (!(text in TLS_VERSIONS)) {
      c.problem(m.get(k)?.value, `${F}.${k}`, `must be TLS12 or TLS13, got "${text}"`);
      return def;
    }
    const v = TLS_VERSIONS[text];
    if (v === undefined) c.problem(m.get(k)?.value, `${F}.${k}`, `${text} is not supported (OpenSSL 3 disables TLS 1.0 and 1.1): use TLS12 or TLS13`);
    return v ?? def;
  };
  const minVersion = version('min_version', 'TLSv1.2');
  const maxVersion = version('max_version', 'TLSv1.3');
  if (minVersion === 'TLSv1.3' && maxVersion === 'TLSv1.2') c.problem(m.get('max_version')?.value, `${F}.max_version`, 'is lower than min_version');

  let ciphers = [...TLS13_CIPHERS, ...DEFAULT_TLS12_CIPHERS.map((n) => TLS12_CIPHERS[n])].join(':');
  const suites = c.strings(m.get('cipher_suites')?.value, `${F}.cipher_suites`);
  if (suites && suites.length) {
    const mapped: string[] = [];
    let unknown = 0;
    suites.forEach(({ value, node: n }, i) => {
      const openssl = TLS12_CIPHERS[value];
      if (openssl) mapped.push(openssl);
      else if (!TLS13_CIPHERS.includes(value)) {
        unknown++;
        c.problem(n, `${F}.cipher_suites[${i}]`, `unknown cipher suite "${value}" (known: ${[...Object.keys(TLS12_CIPHERS), ...TLS13_CIPHERS].join(', ')})`);
      }
    });
    if (mapped.length) ciphers = [...TLS13_CIPHERS, ...mapped].join(':');
    else if (unknown === 0 && minVersion === 'TLSv1.2') c.problem(m.get('cipher_suites')?.key, `${F}.cipher_suites`, 'lists no TLS 1.2 suite, so TLS 1.2 clients could not connect (TLS 1.3 suites are not configurable)');
  }

  let ecdhCurve: string | undefined;
  const curves = c.strings(m.get('curve_preferences')?.value, `${F}.curve_preferences`);
  if (curves && curves.length) {
    const mapped: string[] = [];
    curves.forEach(({ value, node: n }, i) => {
      const openssl = CURVES[value];
      if (openssl) mapped.push(openssl);
      else c.problem(n, `${F}.curve_preferences[${i}]`, `unknown curve "${value}" (known: ${Object.keys(CURVES).join(', ')})`);
    });
    if (mapped.length) ecdhCurve = mapped.join(':');
  }

  const honorCipherOrder = c.bool(m.get('prefer_server_cipher_suites')?.value, `${F}.prefer_server_cipher_suites`) ?? true;
  if (!cert || !key) return undefined;
  return { cert, key, clientCa, clientAuth, clientAllowedSans: sans?.map((s) => s.value), minVersion, maxVersion, ciphers, ecdhCurve, honorCipherOrder };
}

function parseHttp(c: Checker, node: Value): Map<string, string> {
  const F = 'http_server_config';
  const headers = new Map<string, string>();
  const m = c.mapping(node, F, HTTP_KEYS);
  if (!m) return headers;
  // http2 is accepted for compatibility: Node's HTTP/1.1 server is used either way
  c.bool(m.get('http2')?.value, `${F}.http2`);
  const h = m.get('headers');
  const hm = h ? c.mapping(h.value, `${F}.headers`, undefined) : undefined;
  for (const [name, { key, value }] of hm ?? []) {
    const field = `${F}.headers.${name}`;
    if (!EXTRA_HEADERS.has(name)) {
      c.problem(key, field, `HTTP header "${name}" can not be configured (allowed: ${[...EXTRA_HEADERS.keys()].join(', ')})`);
      continue;
    }
    const v = c.string(value, field);
    if (v === undefined) continue;
    const allowed = EXTRA_HEADERS.get(name);
    if (allowed && !allowed.includes(v)) c.problem(value, field, `must be one of ${allowed.map((a) => `"${a}"`).join(', ')}, got "${v}"`);
    else if (/[\x00-\x1f\x7f]/.test(v)) c.problem(value, field, 'must not contain control characters');
    else headers.set(name, v);
  }
  return headers;
}

function parseUsers(c: Checker, node: Value): Map<string, string> {
  const F = 'basic_auth_users';
  const users = new Map<string, string>();
  const m = c.mapping(node, F, undefined);
  for (const [name, { key, value }] of m ?? []) {
    const field = `${F}[${JSON.stringify(name)}]`;
    if (name === '' || name.includes(':')) {
      c.problem(key, field, 'user names must be non-empty and cannot contain ":" (HTTP basic auth cannot send them)');
      continue;
    }
    const hash = c.string(value, field);
    if (hash === undefined) continue;
    // the message never echoes the value: it may be a password pasted by mistake
    if (!BCRYPT_HASH.test(hash)) c.problem(value, field, 'must be a bcrypt hash ($2a$, $2b$ or $2y$, cost 4-31), e.g. from `htpasswd -nBC 10 "" | tr -d \':\\n\'`');
    else users.set(name, hash);
  }
  return users;
}
