import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parsePidCgroup, readPidCgroup } from '../../../src/procfs/pid-cgroup.js';
import { ProcReader } from '../../../src/host/proc-reader.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../../fixtures/procfs/pid-cgroup/${name}`, import.meta.url), 'utf8');

test('hybrid host (this VM): every v1 line plus the v2 path', () => {
  const cg = parsePidCgroup(fixture('hybrid-debian-vm.txt'));
  assert.equal(cg.lines.length, 10);
  assert.equal(cg.v2Path, '/');
  assert.deepEqual(cg.lines[0], { hierarchyId: 9, controllers: ['name=systemd'], path: '/', deleted: false });
  assert.deepEqual(cg.lines[5], {
    hierarchyId: 4,
    controllers: ['memory'],
    path: '/process_api/1e73957000590f5bef4b183801d40d56',
    deleted: false,
  });
  assert.deepEqual(cg.lines[9], { hierarchyId: 0, controllers: [], path: '/', deleted: false });
});

test('cgroup v2 node: the 0:: line is the v2 path', () => {
  const cg = parsePidCgroup(fixture('v2-openshift-crio.txt'));
  assert.equal(cg.lines.length, 1);
  assert.equal(
    cg.v2Path,
    '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod869cf449_9254_42a9_a3f3_635768904276.slice/' +
      'crio-18c5c007ff7f8fa8c3412987b15c1ccaea766bd6d6ed47af707eccad680eb2b9.scope',
  );
});

test('cgroup v1 node: all hierarchies, no v2 path', () => {
  const cg = parsePidCgroup(fixture('v1-openshift-crio.txt'));
  assert.equal(cg.lines.length, 12);
  assert.equal(cg.v2Path, undefined);
  assert.deepEqual(cg.lines.find((l) => l.hierarchyId === 5)?.controllers, ['net_cls', 'net_prio']);
  assert.equal(cg.lines.find((l) => l.hierarchyId === 8)?.path, '/');
  assert.match(cg.lines.find((l) => l.hierarchyId === 7)?.path ?? '', /\/crio-4a4f[0-9a-f]{60}\.scope$/);
});

test('colons inside the path belong to the path', () => {
  const cg = parsePidCgroup(fixture('v1-containerd-literal-slice.txt'));
  assert.equal(cg.lines.length, 11);
  const memory = cg.lines.find((l) => l.controllers.includes('memory'));
  assert.equal(
    memory?.path,
    '/system.slice/containerd.service/kubepods-besteffort-pod3697790b_a759_48ca_84bd_abf59b0ebd73.slice:' +
      'cri-containerd:243b3bff3dcbe37dabd58d1cb01b3b84ce0d310e3194870197848a21b50be0d9',
  );
  assert.deepEqual(cg.lines.find((l) => l.hierarchyId === 9)?.controllers, ['cpuacct', 'cpu']);
});

test('a removed cgroup: " (deleted)" is stripped and flagged', () => {
  const cg = parsePidCgroup(fixture('v2-zombie-deleted.txt'));
  assert.equal(cg.lines[0]?.deleted, true);
  assert.ok(cg.v2Path?.endsWith('.scope'), cg.v2Path);
});

test('malformed lines are skipped, good ones kept', () => {
  const cg = parsePidCgroup(fixture('malformed.txt'));
  assert.deepEqual(cg.lines, [{ hierarchyId: 0, controllers: [], path: '/system.slice/crio.service', deleted: false }]);
  assert.equal(cg.v2Path, '/system.slice/crio.service');
  assert.deepEqual(parsePidCgroup(''), { lines: [], v2Path: undefined });
});

test('readPidCgroup reads a live process and reports a gone one as undefined', async () => {
  const reader = new ProcReader('/proc');
  const own = readPidCgroup(reader, `/proc/${process.pid}/cgroup`);
  assert.deepEqual(own, parsePidCgroup(readFileSync('/proc/self/cgroup', 'utf8')));
  assert.ok(own && own.lines.length > 0);

  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  const pid = child.pid as number;
  assert.ok(readPidCgroup(reader, `/proc/${pid}/cgroup`));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited; // reaped: the pid directory is gone
  assert.equal(readPidCgroup(reader, `/proc/${pid}/cgroup`), undefined);
});
