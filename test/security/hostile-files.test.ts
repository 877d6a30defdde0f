/**
 * Attack: point the exporter at files that never end or never answer. `-config.path /dev/zero`,
 * a FIFO nobody writes, a 10 MB config and `key_file: /dev/zero` each stop start-up at once with
 * exit 1 and a message naming the file and the reason, instead of growing to gigabytes or hanging.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { repoRoot } from '../helpers/exporter-process.js';

const dir = mkdtempSync(join(tmpdir(), 'pgx-files-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function serve(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '-web.listen-address', '127.0.0.1:0', ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
}

test('a device, a FIFO or a 10 MB file as config or key stops start-up with a clear error', { timeout: 240_000 }, () => {
  const fifo = join(dir, 'config.fifo');
  execFileSync('mkfifo', [fifo]);
  const big = join(dir, 'big.yaml');
  writeFileSync(big, `# ${'x'.repeat(10 << 20)}\n`);
  const web = join(dir, 'web.yml');
  writeFileSync(web, 'tls_server_config:\n  cert_file: /dev/zero\n  key_file: /dev/zero\n');
  const cases: [string[], RegExp][] = [
    [['-config.path', '/dev/zero'], /cannot read config file: a character device, not a regular file/],
    [['-config.path', fifo], /cannot read config file: a FIFO, not a regular file/],
    [['-config.path', big], /cannot read config file: larger than 256 KiB/],
    [['-web.config.file', web], /tls_server_config\.cert_file: cannot read \/dev\/zero: a character device, not a regular file/],
  ];
  for (const [args, message] of cases) {
    const r = serve(args);
    assert.equal(r.status, 1, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
  }
});
