/**
 * Attack: negotiate a weak TLS 1.2 suite. Without cipher_suites in the web config, only ECDHE with
 * AES-GCM or ChaCha20-Poly1305 is accepted (Go's forward-secret AEAD defaults); suites without
 * forward secrecy (AES128-SHA, AES256-GCM-SHA384), CBC, CCM and ARIA fail the handshake. Checked
 * with the openssl command-line client, one handshake per suite.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { type ExporterProcess, startExporter } from '../helpers/exporter-process.js';
import { makePki, type Pki } from '../helpers/pki.js';

let pki: Pki;
let ex: ExporterProcess;
before(async () => {
  pki = makePki();
  // one RSA and one EC certificate would double the run; the EC one covers ECDSA suites, and
  // RSA-only suites must fail against it anyway, so they are checked for refusal by name below
  const server = pki.issue('server', { cn: '127.0.0.1', san: 'IP:127.0.0.1', usage: 'serverAuth' });
  const web = join(pki.dir, 'web.yml');
  writeFileSync(web, `tls_server_config:\n  cert_file: ${server.cert}\n  key_file: ${server.key}\n`);
  ex = await startExporter(['-web.config.file', web]);
});
after(async () => {
  await ex?.stop();
  pki?.cleanup();
});

/** The suite the server chose, or undefined when the TLS 1.2 handshake failed. */
function handshake(cipher: string): string | undefined {
  const r = spawnSync('openssl', ['s_client', '-connect', `127.0.0.1:${ex.port}`, '-tls1_2', '-cipher', cipher, '-CAfile', pki.ca.cert], {
    input: '',
    encoding: 'utf8',
    timeout: 20_000,
  });
  const m = /^\s*Cipher\s*:\s*(\S+)/m.exec(r.stdout) ?? /Cipher is (\S+)/.exec(r.stdout);
  return m && m[1] !== '0000' && m[1] !== '(NONE)' ? m[1] : undefined;
}

test('TLS 1.2 offers only ECDHE with AES-GCM or ChaCha20-Poly1305 by default', () => {
  for (const good of ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305']) {
    assert.equal(handshake(good), good, `${good} is accepted`);
  }
  for (const weak of ['ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES256-SHA384', 'ECDHE-ECDSA-AES128-CCM', 'ECDHE-ECDSA-ARIA128-GCM-SHA256', 'AES128-SHA', 'AES256-GCM-SHA384']) {
    assert.equal(handshake(weak), undefined, `${weak} is refused`);
  }
});
