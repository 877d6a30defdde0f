/**
 * The collector where it cannot count: as an unprivileged user (uid 65534, no capabilities) with
 * kernel.perf_event_paranoid >= 2 it says what it needs; in a PID namespace whose pids the procfs
 * does not show it turns task scope off instead of counting the wrong processes.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { rootMissing } from './workload.js';

const CHILD = path.join(import.meta.dirname, 'collector-child.ts');
const repo = path.join(import.meta.dirname, '..', '..', '..');

interface ChildResult {
  pid: number;
  procfsPid: number;
  threads: number;
  openFds: number;
  error?: { code: string; message: string };
  logs: string[];
}

function run(prefix: string[]): ChildResult {
  const out = execFileSync(prefix[0] as string, [...prefix.slice(1), process.execPath, '--import', 'tsx', CHILD], { cwd: repo, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as ChildResult;
}

const paranoid = Number(readFileSync('/proc/sys/kernel/perf_event_paranoid', 'utf8').trim());
const unprivilegedSkip = rootMissing() || (paranoid < 2 && `kernel.perf_event_paranoid is ${paranoid}: unprivileged users may count`);
test('unprivileged, paranoid >= 2: update fails with PERF_UNAVAILABLE naming CAP_PERFMON and the sysctl', { skip: unprivilegedSkip }, () => {
  const r = run(['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all']);
  assert.equal(r.error?.code, 'PERF_UNAVAILABLE', JSON.stringify(r));
  assert.match(r.error?.message ?? '', /perf_event_open refused \(EACCES\): the exporter needs CAP_PERFMON \(Linux 5\.8\+\) or CAP_SYS_ADMIN, or kernel\.perf_event_paranoid <= 1 \(it is \d\)/);
  assert.equal(r.openFds, 0);
});

test('procfs of another PID namespace: task scope is off, nothing is opened', { skip: rootMissing() }, () => {
  // a new PID namespace, /proc still the parent's: this process is pid 1 here and another pid there
  const r = run(['unshare', '--pid', '--fork']);
  assert.equal(r.pid, 1);
  assert.notEqual(r.procfsPid, 1);
  assert.equal(r.error, undefined);
  assert.equal(r.openFds, 0);
  assert.ok(r.logs.some((l) => l.includes('run with hostPID: true') && l.includes('task scope is off')), r.logs.join(''));
});

test('own PID namespace with its own procfs: pids agree and task scope counts', { skip: rootMissing() }, () => {
  const r = run(['unshare', '--pid', '--fork', '--mount-proc']);
  assert.equal(r.pid, 1);
  assert.equal(r.procfsPid, 1);
  assert.equal(r.error, undefined);
  assert.equal(r.openFds, r.threads, 'one TaskClock counter per thread');
});
