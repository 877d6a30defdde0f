import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import {
  discoverCgroup2Mount, findCgroup2Mount, parseMountInfo, resolveCgroup, type MountInfo,
} from '../../../src/cgroup/mountinfo.js';
import { ParseError } from '../../../src/errors.js';
import { ProcReader } from '../../../src/host/proc-reader.js';

const FIXTURES = path.join(import.meta.dirname, '../../fixtures/cgroup/mountinfo');
const mounts = (name: string): MountInfo[] => parseMountInfo(readFileSync(path.join(FIXTURES, name), 'utf8'), name);

test('parses every field of a line with optional fields', () => {
  const all = mounts('v2-pure.txt');
  assert.deepEqual(all.find((m) => m.mountPoint === '/sys/fs/cgroup'), {
    mountId: 47, parentId: 46, device: '0:38', root: '/', mountPoint: '/sys/fs/cgroup', mountOptions: 'rw,relatime',
    optionalFields: ['shared:5'], fsType: 'cgroup2', source: 'cgroup2', superOptions: 'rw',
  });
});

test('a line without optional fields', () => {
  const [m] = parseMountInfo('41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n');
  assert.deepEqual(m?.optionalFields, []);
  assert.equal(m?.fsType, 'cgroup2');
  assert.equal(m?.superOptions, 'rw');
});

test('several optional fields', () => {
  const [m] = parseMountInfo('36 35 98:0 /mnt1 /mnt2 rw,noatime shared:2 master:1 propagate_from:3 - ext3 /dev/root rw,errors=continue');
  assert.deepEqual(m?.optionalFields, ['shared:2', 'master:1', 'propagate_from:3']);
  assert.equal(m?.root, '/mnt1');
  assert.equal(m?.source, '/dev/root');
  assert.equal(m?.superOptions, 'rw,errors=continue');
});

test('octal escapes in mount point and source are decoded', () => {
  const m = mounts('v2-pure.txt').find((x) => x.fsType === 'tmpfs' && x.mountPoint.startsWith('/tmp/'));
  assert.equal(m?.mountPoint, '/tmp/psi fixture\\dir');
  assert.equal(m?.source, 'tmp src');
});

test('a malformed line names file, line and field', () => {
  assert.throws(
    () => parseMountInfo('41 31 0:38 / /a rw - cgroup2 cgroup2 rw\n42 31 0:39 / /b rw cgroup2 cgroup2 rw\n', '/proc/self/mountinfo'),
    (err: unknown) => err instanceof ParseError && err.file === '/proc/self/mountinfo' && /line 2: expected/.test(err.message),
  );
  assert.throws(() => parseMountInfo('x 31 0:38 / /a rw - cgroup2 cgroup2 rw'), /line 1: field mount ID: expected an integer, got "x"/);
  assert.throws(() => parseMountInfo('1 31 zero / /a rw - cgroup2 cgroup2 rw'), /line 1: field major:minor/);
});

test('findCgroup2Mount: pure v2 at /sys/fs/cgroup', () => {
  assert.equal(findCgroup2Mount(mounts('v2-pure.txt'))?.mountPoint, '/sys/fs/cgroup');
});

test('findCgroup2Mount: hybrid at /sys/fs/cgroup/unified, ignoring the v1 hierarchies', () => {
  const m = findCgroup2Mount(mounts('hybrid.txt'));
  assert.equal(m?.mountPoint, '/sys/fs/cgroup/unified');
  assert.equal(m?.root, '/');
});

test('findCgroup2Mount: none on a cgroup v1 only host', () => {
  assert.ok(mounts('v1-only.txt').some((m) => m.fsType === 'cgroup'));
  assert.equal(findCgroup2Mount(mounts('v1-only.txt')), undefined);
});

test('findCgroup2Mount: preference order, other mount points last, the visible (last) of stacked mounts', () => {
  const text = [
    '50 1 0:40 / /run/other rw - cgroup2 cgroup2 rw',
    '51 1 0:41 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw',
    '52 1 0:42 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw',
    '53 1 0:43 /kubepods /sys/fs/cgroup rw - cgroup2 cgroup2 rw',
  ];
  assert.equal(findCgroup2Mount(parseMountInfo(text.join('\n')))?.mountId, 53);
  assert.equal(findCgroup2Mount(parseMountInfo(text.slice(0, 2).join('\n')))?.mountId, 51);
  assert.equal(findCgroup2Mount(parseMountInfo(text[0] ?? ''))?.mountPoint, '/run/other');
});

test('resolveCgroup maps /proc/<pid>/cgroup paths onto the mount', () => {
  const host = { directory: '/sys/fs/cgroup', root: '/', origin: 'test' };
  assert.deepEqual(resolveCgroup(host, '/system.slice/crio.service'), { path: '/system.slice/crio.service', directory: '/sys/fs/cgroup/system.slice/crio.service' });
  assert.deepEqual(resolveCgroup(host, '/'), { path: '/', directory: '/sys/fs/cgroup' });
  // a process outside our cgroup namespace, seen through a mount rooted inside it: not visible
  assert.equal(resolveCgroup(host, '/../../system.slice'), undefined);
});

test('resolveCgroup: host mount seen from a container cgroup namespace (root /../../..)', () => {
  const m = findCgroup2Mount(mounts('hybrid-pid1-in-cgroupns.txt'));
  assert.equal(m?.root, '/../../..');
  const mount = { directory: `/host${m?.mountPoint ?? ''}`, root: m?.root ?? '', origin: 'test' };
  assert.deepEqual(resolveCgroup(mount, '/../../../kubepods.slice/pod1'), { path: '/kubepods.slice/pod1', directory: '/host/sys/fs/cgroup/unified/kubepods.slice/pod1' });
  assert.deepEqual(resolveCgroup(mount, '/../../..'), { path: '/', directory: '/host/sys/fs/cgroup/unified' });
  assert.equal(resolveCgroup(mount, '/../..'), undefined);
});

test('resolveCgroup: bind mount of a subtree only sees paths below its root', () => {
  const mount = { directory: '/sys/fs/cgroup', root: '/kubepods/pod1', origin: 'test' };
  assert.deepEqual(resolveCgroup(mount, '/kubepods/pod1/ctr'), { path: '/ctr', directory: '/sys/fs/cgroup/ctr' });
  assert.equal(resolveCgroup(mount, '/kubepods/pod2/ctr'), undefined);
  assert.equal(resolveCgroup(mount, '/kubepods'), undefined);
});

test('discoverCgroup2Mount: own mount table, host table with rootfs prefix, override, v1 only', (t) => {
  const procfs = mkdtempSync(path.join(tmpdir(), 'procfs-'));
  t.after(() => rmSync(procfs, { recursive: true, force: true }));
  mkdirSync(path.join(procfs, 'self'));
  mkdirSync(path.join(procfs, '1'));
  writeFileSync(path.join(procfs, 'self/mountinfo'), readFileSync(path.join(FIXTURES, 'hybrid.txt')));
  writeFileSync(path.join(procfs, '1/mountinfo'), readFileSync(path.join(FIXTURES, 'v2-pure.txt')));
  const reader = new ProcReader(procfs);

  assert.deepEqual(discoverCgroup2Mount(reader, {}), { directory: '/sys/fs/cgroup/unified', root: '/', origin: `${procfs}/self/mountinfo` });
  assert.deepEqual(discoverCgroup2Mount(reader, { rootfs: '/host' }), { directory: '/host/sys/fs/cgroup', root: '/', origin: `${procfs}/1/mountinfo` });
  assert.deepEqual(discoverCgroup2Mount(reader, { cgroup2Root: '/host/sys/fs/cgroup', rootfs: '/host' }), { directory: '/host/sys/fs/cgroup', root: '/', origin: 'override' });

  writeFileSync(path.join(procfs, 'self/mountinfo'), readFileSync(path.join(FIXTURES, 'v1-only.txt')));
  assert.equal(discoverCgroup2Mount(reader, {}), undefined);
  assert.throws(() => discoverCgroup2Mount(new ProcReader(path.join(procfs, 'nowhere')), {}), /cannot read .*nowhere\/self\/mountinfo: ENOENT/);
});

test('discoverCgroup2Mount on this machine: our own cgroup resolves to a directory listing our pid', (t) => {
  const mount = discoverCgroup2Mount(new ProcReader('/proc'), {});
  if (!mount) {
    t.skip('no cgroup2 mount on this machine (cgroup v1 only)');
    return;
  }
  const own = /^0::(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1];
  assert.ok(own !== undefined, 'a cgroup2 mount exists, so /proc/self/cgroup has a 0:: line');
  const resolved = resolveCgroup(mount, own);
  assert.ok(resolved, `${own} is visible under ${mount.directory}`);
  const procs = readFileSync(path.join(resolved.directory, 'cgroup.procs'), 'utf8').split('\n');
  assert.ok(procs.includes(String(process.pid)), `${resolved.directory}/cgroup.procs lists pid ${process.pid}`);
});
