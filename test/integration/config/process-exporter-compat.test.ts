/**
 * Differential test of config semantics against the real process-exporter (Debian's
 * prometheus-process-exporter, Go): the same config file and the same live processes must give
 * the same group names and member counts. Covers comm/exe/cmdline matching, Go regex syntax and
 * named captures, the cmdline-joined-by-spaces rule, the template variables both implementations
 * share (.Comm .ExeBase .ExeFull .Username .PID .StartTime .Matches), and -procnames/-namemapping.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ProcessAttributes, ProcessMatcher } from '../../../src/config/attributes.js';
import { legacyMatcher } from '../../../src/config/legacy.js';
import { loadConfigFile } from '../../../src/config/load.js';
import { freePort, hasCommand, scrape } from '../../helpers/namespace.js';

const PE = 'prometheus-process-exporter';
const skip = hasCommand(PE) ? false : `${PE} is not installed (apt-get install prometheus-process-exporter)`;
if (skip) console.log(`# skipped: ${skip}`);

const KEEPALIVE = 'setInterval(() => {}, 1 << 30)';
const dir = mkdtempSync(join(tmpdir(), 'pge-compat-'));
const children: ChildProcess[] = [];

/** Start node under a symlink named `name` (its comm) with the given argv[0] and arguments. */
function startProcess(name: string, argv0: string, args: string[]): ChildProcess {
  const link = join(dir, name);
  try {
    symlinkSync(process.execPath, link);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const child = spawn(link, ['-e', KEEPALIVE, '--', ...args], { argv0, stdio: 'ignore' });
  children.push(child);
  return child;
}

/** ProcessAttributes of a live process, read from /proc the way process-exporter reads them. */
function attributesOf(pid: number): ProcessAttributes {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const btime = Number(/^btime (\d+)$/m.exec(readFileSync('/proc/stat', 'utf8'))?.[1]);
  const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  const cmdline = raw === '' ? [] : raw.replace(/\0$/, '').split('\0');
  const euid = Number(/^Uid:\s+\d+\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  const user = readFileSync('/etc/passwd', 'utf8').split('\n').map((l) => l.split(':')).find((f) => Number(f[2]) === euid)?.[0];
  return {
    pid,
    ppid: Number(fields[1]),
    comm,
    startTimeSeconds: btime + Number(fields[19]) / 100,
    cmdline: () => cmdline,
    username: () => user ?? String(euid),
    cgroups: () => [],
    cgroupPath: () => undefined,
    container: () => undefined,
  };
}

/** group name -> member count of `pids` under our matcher */
function ourGroups(matcher: ProcessMatcher, pids: number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const pid of pids) {
    const name = matcher.match(attributesOf(pid))?.name;
    if (name !== undefined) out[name] = (out[name] ?? 0) + 1;
  }
  return out;
}

/** group name -> num_procs reported by process-exporter started with `args` */
async function theirGroups(args: string[], expectGroups: number): Promise<Record<string, number>> {
  const port = await freePort();
  const pe = spawn(PE, [...args, '-web.listen-address', `127.0.0.1:${port}`, '-threads=false', '-gather-smaps=false', '-children=false'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  pe.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    for (let attempt = 0; ; attempt++) {
      const text = await scrape(`http://127.0.0.1:${port}/metrics`);
      const out: Record<string, number> = {};
      for (const line of text.split('\n')) {
        const m = /^namedprocess_namegroup_num_procs\{groupname="((?:[^"\\]|\\.)*)"\} (\S+)$/.exec(line);
        if (m && Number(m[2]) > 0) out[JSON.parse(`"${m[1]}"`) as string] = Number(m[2]);
      }
      if (Object.keys(out).length >= expectGroups || attempt >= 20) return out;
      await new Promise((r) => setTimeout(r, 250));
    }
  } catch (err) {
    throw new Error(`process-exporter failed: ${stderr}`, { cause: err });
  } finally {
    pe.kill('SIGTERM');
  }
}

let pids: number[] = [];

before(async () => {
  if (skip) return;
  const started = [
    startProcess('pgc-alpha', '/opt/app/bin/pgc-alpha', ['-config.path', '/etc/app.yml', '--port=8080']),
    startProcess('pgc-alpha', '/srv/other/pgc-alpha', ['JAVA-ish', 'Upper']),
    startProcess('pgc-beta', 'pgc-beta', ['worker', '--mode=batch']),
    startProcess('pgc-beta', '/usr/local/bin/pgc-beta', ['web']),
    startProcess('pgc-beta', 'pgc-beta', ['web']),
    startProcess('pgc-gamma-long-name', 'pgc-gamma-long-name', ['x']),
    startProcess('pgc-delta', 'pgc-delta', ['--port=9']),
  ];
  pids = started.map((c) => c.pid as number);
  // wait until every child has exec'd node (comm renamed from the parent's)
  for (const pid of pids) {
    for (let i = 0; i < 100 && !readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(KEEPALIVE); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
});

after(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

test('config file: same groups and counts as process-exporter', { skip }, async () => {
  const cfg = join(dir, 'compat.yaml');
  writeFileSync(cfg, [
    'process_names:',
    '  - name: "{{.ExeFull}}:{{.Matches.Cfg}}:{{.Matches.Port}}"',
    '    exe: [/opt/app/bin/pgc-alpha]',
    "    cmdline: ['-config\\.path\\s+(?P<Cfg>\\S+)', '--port=(?P<Port>\\d+)']",
    '  - name: "upper:{{.ExeBase}}"',
    '    exe: [pgc-alpha]',
    "    cmdline: ['(?i)java-ISH\\s+upper$']",
    '  - name: "{{.Comm}}-{{.ExeBase}}-{{.Matches.Mode}}"',
    '    comm: [pgc-beta]',
    "    cmdline: ['\\s(?P<Mode>worker|web)\\b', '^\\S*pgc-beta ']",
    '  - name: "{{.Comm}}|{{.Username}}|{{.PID}}|{{.StartTime}}"',
    '    comm: [pgc-gamma-long-]',
    '  - name: "[[:alpha:]] {{.ExeBase}}"',
    "    cmdline: ['^pgc-delta\\s.*--port=[[:digit:]]\\b']",
  ].join('\n'));
  const ours = ourGroups(loadConfigFile(cfg).matcher, pids);
  const gamma = attributesOf(pids[5] as number);
  assert.equal(ours['/opt/app/bin/pgc-alpha:/etc/app.yml:8080'], 1);
  assert.equal(ours['upper:pgc-alpha'], 1);
  assert.equal(ours['pgc-beta-pgc-beta-worker'], 1);
  assert.equal(ours['pgc-beta-pgc-beta-web'], 2);
  assert.equal(ours['[[:alpha:]] pgc-delta'], 1);
  assert.equal(Object.keys(ours).length, 6, JSON.stringify(ours));
  assert.ok(Object.keys(ours).some((k) => k.startsWith(`pgc-gamma-long-|root|${gamma.pid}|`)), JSON.stringify(ours));

  const theirs = await theirGroups(['-config.path', cfg], Object.keys(ours).length);
  assert.deepEqual(ours, theirs);
});

test('-procnames/-namemapping: same groups and counts as process-exporter', { skip }, async () => {
  const procnames = 'pgc-beta,pgc-delta,pgc-gamma-long-';
  const namemapping = 'pgc-alpha,--port=(\\d+),pgc-beta,(work)er|(web)';
  const ours = ourGroups(legacyMatcher({ procnames: [procnames], namemapping }), pids);
  assert.deepEqual(ours, { 'pgc-alpha:8080': 1, 'pgc-beta:work': 1, 'pgc-beta:web': 2, 'pgc-delta': 1, 'pgc-gamma-long-': 1 });
  const theirs = await theirGroups(['-procnames', procnames, '-namemapping', namemapping], Object.keys(ours).length);
  assert.deepEqual(ours, theirs);
});
