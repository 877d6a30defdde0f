/**
 * `top` in a real pseudo-terminal (tmux), reading the /proc of a PID namespace that holds a known
 * workload: two busy `tp-busy` processes and three idle `tp-many` ones. Keys go in with
 * send-keys, the screen comes back with capture-pane. Also `-once -from` against an exporter
 * serving /api/groups behind TLS and basic auth.
 */
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { CgroupSandbox, cgroup2MountPoint } from '../../helpers/cgroup-sandbox.js';
import { exporterCommand, freePort, hasCommand, namespaceSkipReason, runInPidNamespace } from '../../helpers/namespace.js';
import { repoRoot, startExporter, waitFor } from '../../helpers/exporter-process.js';
import { makePki } from '../../helpers/pki.js';
import { namedWorkload } from '../../helpers/workload.js';

const skip = namespaceSkipReason() ?? (hasCommand('tmux') ? undefined : 'tmux is not installed');
if (skip) console.log(`# skipped: ${skip}`);

const dir = mkdtempSync(join(tmpdir(), 'pge-top-'));
const socket = `pge-top-${process.pid}`;
const tmux = (...args: string[]): string => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
after(() => {
  try {
    tmux('kill-server');
  } catch {
    // no server was started
  }
  rmSync(dir, { recursive: true, force: true });
});

const WORKLOAD = `'${namedWorkload('tp-busy')}' busy &
'${namedWorkload('tp-busy')}' busy &
for i in 1 2 3; do '${namedWorkload('tp-many')}' threads 2 & done
`;

const screen = (): string[] => tmux('capture-pane', '-p', '-t', 'top').split('\n');
const keys = (...k: string[]): void => void tmux('send-keys', '-t', 'top', ...k);

/** Waits until the screen satisfies `ok`; returns it. */
async function waitScreen(what: string, ok: (lines: string[]) => boolean, timeoutMs = 60_000): Promise<string[]> {
  let last: string[] = [];
  try {
    return await waitFor(what, () => {
      last = screen();
      return ok(last) ? last : undefined;
    }, timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}; the screen:\n${last.join('\n')}`);
  }
}

const row = (lines: string[], i: number): string[] => (lines[i] ?? '').trim().split(/\s+/);

test('top in tmux: the busy group first with its process count; sort, filter and drill-down change the screen; q exits 0 and restores the terminal', { skip, timeout: 180_000 }, async () => {
  const script = join(dir, 'ns.sh');
  writeFileSync(script, `${WORKLOAD}${exporterCommand(['top', '-d', '1s'])}\n`);
  tmux('new-session', '-d', '-s', 'top', '-x', '150', '-y', '40', 'bash --norc --noprofile');
  keys(`unshare --pid --fork --mount-proc --kill-child=SIGKILL bash ${script}; echo TOP-EXIT=$?`, 'Enter');

  // rates need two cycles; the two busy loops outrun everything else in the namespace
  const first = await waitScreen('groups with rates', (l) => /top: local \/proc, cycle ([2-9]|\d\d)/.test(l[0] ?? '') && row(l, 2)[0] === 'tp-busy');
  assert.match(first[1] ?? '', /^GROUP\s+PROCS\s+THREADS\s+CPU%/);
  assert.equal(row(first, 2)[1], '2', 'tp-busy has 2 processes');
  const many = first.find((l) => l.startsWith('tp-many '));
  assert.equal(many?.trim().split(/\s+/).slice(1, 3).join(' '), '3 6', 'tp-many: 3 processes, 6 threads');
  assert.ok(Number(row(first, 2)[3]) > 0, `tp-busy CPU% ${row(first, 2)[3]}`);

  keys('s'); // cpu -> rss: the node process running top (bash's last command, so a child of pid 1) holds the most memory
  const byRss = await waitScreen('sort by rss', (l) => /sort rss/.test(l[0] ?? ''));
  assert.notEqual(row(byRss, 2)[0], 'tp-busy');
  assert.match(byRss[2] ?? '', /^node /);

  keys('/');
  keys('-l', 'tp-m');
  keys('Enter');
  const filtered = await waitScreen('filter', (l) => /filter "tp-m"/.test(l[0] ?? ''));
  assert.match(filtered[0] ?? '', /; 1 groups,/);
  assert.equal(row(filtered, 2)[0], 'tp-many');
  assert.ok(!filtered.some((l) => l.startsWith('tp-busy')), 'tp-busy filtered out');

  keys('Enter');
  const detail = await waitScreen('drill-down', (l) => /group "tp-many"/.test(l[0] ?? '') && l.filter((x) => / tp-many /.test(x)).length === 3);
  assert.match(detail[1] ?? '', /^3 processes, 6 threads/);
  const procRows = detail.filter((l) => / tp-many /.test(l));
  for (const r of procRows) assert.match(r, /^\s+\d+\s+1 tp-many .* rule 2: name: "\{\{\.Comm\}\}", ppid: 1$/);
  assert.ok(detail.some((l) => /^THREAD NAME/.test(l)));

  keys('Escape');
  await waitScreen('back to the groups', (l) => /; 1 groups, sort rss, filter "tp-m"/.test(l[0] ?? ''));
  keys('q');
  const end = await waitScreen('exit', (l) => l.some((x) => x === 'TOP-EXIT=0'));
  assert.ok(!end.some((l) => /^GROUP\s+PROCS/.test(l)), 'the alternate screen is gone');
  keys('stty -a | tr " " "\\n" | grep -xE -- "-?(echo|icanon)" | tr "\\n" " "; echo', 'Enter');
  const tty = await waitScreen('stty', (l) => l.some((x) => /^(-?echo|-?icanon) (-?echo|-?icanon)\s*$/.test(x)));
  assert.ok(tty.some((x) => /^(echo icanon|icanon echo)\s*$/.test(x)), `terminal back in cooked mode with echo:\n${tty.join('\n')}`);
});

test('top -once -from https://...: reads /api/groups through TLS and basic auth', { skip, timeout: 120_000 }, async () => {
  const pki = makePki();
  const server = pki.issue('server', { cn: '127.0.0.1', san: 'IP:127.0.0.1', usage: 'serverAuth' });
  const web = join(dir, 'web.yaml');
  writeFileSync(web, `tls_server_config:\n  cert_file: ${server.cert}\n  key_file: ${server.key}\nbasic_auth_users:\n  viewer: ${bcrypt.hashSync('pw-top', 4)}\n`);
  writeFileSync(join(dir, 'pw'), 'pw-top\n');
  const port = await freePort();
  const ns = runInPidNamespace(`${WORKLOAD}${exporterCommand(['serve', '-web.listen-address', `127.0.0.1:${port}`, '-web.config.file', web, '-collect.min-interval', '1s'])} &\nwait\n`);
  const top = (args: string[]): Promise<{ code: number; out: string }> =>
    new Promise((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), 'top', '-once', '-from', `https://127.0.0.1:${port}`, ...args], { cwd: repoRoot }, (err, stdout, stderr) =>
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr }));
    });
  try {
    const auth = ['-from.user', 'viewer', '-from.password-file', join(dir, 'pw'), '-from.ca-file', pki.ca.cert];
    const out = await waitFor('the exporter', async () => {
      const r = await top(auth);
      return r.code === 0 && /^tp-busy /m.test(r.out) && /cycle [2-9]/.test(r.out) ? r.out : undefined;
    }, 60_000);
    assert.match(out, /^procgroup-exporter top: https:\/\/127\.0\.0\.1:\d+, cycle/);
    assert.match(out, /^tp-many\s+3\s+6\s/m);
    const group = await top([...auth, '-group', 'tp-busy']);
    assert.equal(group.out.split('\n').filter((l) => / tp-busy /.test(l)).length, 2, group.out);
    const denied = await top(['-from.ca-file', pki.ca.cert]);
    assert.notEqual(denied.code, 0);
    assert.match(denied.out, /HTTP 401/);
  } finally {
    await ns.stop();
    pki.cleanup();
  }
});

test('top -once -collector.psi: PSI columns with numbers for a group whose process lives in a real cgroup v2 dir; none without the flag', { timeout: 120_000 }, async (t) => {
  const base = cgroup2MountPoint();
  if (typeof base !== 'string') {
    console.log(`# skipped: ${base.skip}`);
    return t.skip(base.skip);
  }
  const sandbox = new CgroupSandbox();
  try {
    const cg = sandbox.makeCgroup(base, `pge-top-psi-${process.pid}`);
    if (!existsSync(join(cg, 'cpu.pressure'))) {
      const why = 'the kernel has PSI off (no cpu.pressure in a cgroup2 dir; boot with psi=1)';
      console.log(`# skipped: ${why}`);
      return t.skip(why);
    }
    sandbox.startIn(cg, namedWorkload('tp-psi'), ['busy']);
    const top = (args: string[]): Promise<string> =>
      new Promise((resolve, reject) => {
        execFile(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), 'top', '-once', '-procnames', 'tp-psi', ...args], { cwd: repoRoot }, (err, stdout, stderr) =>
          (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
      });
    const names = ['CPU-SOME%', 'CPU-FULL%', 'MEM-SOME%', 'MEM-FULL%', 'IO-SOME%', 'IO-FULL%'];
    /** the PSI cells of the tp-psi row, asserted present; numbers only once there is a baseline */
    const psiCells = (out: string): string[] => {
      const lines = out.split('\n');
      for (const name of names) assert.ok((lines[1] ?? '').includes(name), `${name} in\n${out}`);
      const row = lines.find((l) => /^tp-psi /.test(l));
      assert.ok(row, out);
      return row.trim().split(/\s+/).slice(-names.length);
    };
    const numeric = (cells: string[]): boolean => cells.every((c) => /^\d+\.\d$/.test(c) && Number(c) <= 100);
    // locally -once runs two cycles: the second has the first as its baseline
    const local = psiCells(await top(['-collector.psi']));
    assert.ok(numeric(local), local.join(' '));
    const without = await top([]);
    assert.match(without, /^tp-psi /m);
    assert.doesNotMatch(without, /SOME%|FULL%/);
    // -from: the exporter's /api/groups carries the same; numbers from its second cycle on
    const exporter = await startExporter(['-collector.psi', '-procnames', 'tp-psi', '-collect.min-interval', '1s']);
    try {
      const remote = await waitFor('numeric PSI from /api/groups', async () => {
        const cells = psiCells(await top(['-from', exporter.url]));
        return numeric(cells) ? cells : undefined;
      }, 60_000);
      assert.equal(remote.length, names.length);
    } finally {
      await exporter.stop();
    }
  } finally {
    await sandbox.cleanup();
  }
});
