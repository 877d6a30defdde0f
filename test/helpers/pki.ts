import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A certificate and its key as files (PEM), plus the SHA-256 fingerprint Node reports for it. */
export interface Issued {
  cert: string;
  key: string;
  fingerprint256: string;
}

export interface Pki {
  dir: string;
  ca: Issued;
  /** signs a certificate for `cn` with the given subjectAltName (e.g. "IP:127.0.0.1,DNS:localhost") */
  issue(name: string, opts: { cn: string; san: string; usage: 'serverAuth' | 'clientAuth'; selfSigned?: boolean }): Issued;
  /** copies an issued pair over `target` by rename, as a secret update would */
  install(from: Issued, target: { cert: string; key: string }): void;
  cleanup(): void;
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function fingerprint(certFile: string): string {
  const out = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256', '-in', certFile], { encoding: 'utf8' });
  return out.trim().split('=')[1] as string;
}

/** A throw-away CA in a temporary directory, made with the openssl CLI (EC P-256 keys: fast). */
export function makePki(caName = 'procgroup-exporter test CA'): Pki {
  const dir = mkdtempSync(join(tmpdir(), 'pki-'));
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  openssl(['req', '-x509', ...newKey, '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '2', '-subj', `/CN=${caName}`], dir);
  const ca = { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key'), fingerprint256: fingerprint(join(dir, 'ca.crt')) };
  let serial = 1;
  return {
    dir,
    ca,
    issue(name, { cn, san, usage, selfSigned }) {
      const ext = join(dir, `${name}.ext`);
      writeFileSync(ext, `subjectAltName=${san}\nextendedKeyUsage=${usage}\nbasicConstraints=CA:FALSE\n`);
      if (selfSigned) {
        openssl(['req', '-x509', ...newKey, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${cn}`, '-extensions', 'v3', '-config', writeSelfSignedConfig(dir, name, san, usage)], dir);
      } else {
        openssl(['req', ...newKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
        openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', String(serial++), '-out', `${name}.crt`, '-days', '2', '-extfile', ext], dir);
      }
      const cert = join(dir, `${name}.crt`);
      return { cert, key: join(dir, `${name}.key`), fingerprint256: fingerprint(cert) };
    },
    install(from, target) {
      for (const [src, dst] of [[from.cert, target.cert], [from.key, target.key]] as const) {
        const tmp = `${dst}.tmp`;
        writeFileSync(tmp, readFileSync(src));
        renameSync(tmp, dst);
      }
    },
    cleanup() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function writeSelfSignedConfig(dir: string, name: string, san: string, usage: string): string {
  const file = join(dir, `${name}.cnf`);
  writeFileSync(file, `[req]\ndistinguished_name=dn\n[dn]\n[v3]\nsubjectAltName=${san}\nextendedKeyUsage=${usage}\nbasicConstraints=CA:FALSE\n`);
  return file;
}
