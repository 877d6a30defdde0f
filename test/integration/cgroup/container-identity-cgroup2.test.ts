import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { kubeletCgroupRoot } from '../../../src/cgroup/container-id.js';
import { ContainerNameResolver } from '../../../src/cgroup/container-names.js';
import { readPidCgroup } from '../../../src/procfs/pid-cgroup.js';
import { ProcReader } from '../../../src/host/proc-reader.js';
import { CgroupSandbox, cgroup2MountPoint } from '../../helpers/cgroup-sandbox.js';

// Real cgroup v2 directories shaped like a node's kubepods tree (under a test-owned parent, so a
// real node's kubepods is never touched), real processes moved into them, their /proc/<pid>/cgroup
// read back and resolved against log links and runtime bundles laid out in a temp dir.

const UID_CRIO = '0c9d3c3e-6f0e-4a55-9d1f-2b8a7e6c5d41';
const UID_CTRD = '7a1e2b3c-4d5e-4f60-8172-93a4b5c6d7e8';
const UID_FS = 'b2c3d4e5-f607-4819-a2b3-c4d5e6f70819';
const ID_APP = 'a1'.repeat(32);
const ID_CTRD = 'b2'.repeat(32);
const ID_FS = 'c3'.repeat(32);


const where = cgroup2MountPoint();
const skip = typeof where === 'string' ? false : where.skip;
if (skip) console.log(`# skipping real cgroup v2 test: ${skip}`);

const sandbox = new CgroupSandbox();
const startSleeper = (dir: string): number => sandbox.startIn(dir).pid as number;
const files = mkdtempSync(path.join(tmpdir(), 'container-identity-'));

after(async () => {
  await sandbox.cleanup();
  rmSync(files, { recursive: true, force: true });
});



test('processes in kubepods-shaped cgroup v2 dirs get their pod and container', { skip }, () => {
  const mount = where as string;
  const top = sandbox.makeCgroup(mount, `procgroup-exporter-test-${process.pid}`);
  const testRoot = `/${path.relative(mount, top)}`;
  const slice = (qos: string, uid: string) =>
    `kubepods.slice/kubepods-${qos}.slice/kubepods-${qos}-pod${uid.replaceAll('-', '_')}.slice`;

  const app = startSleeper(sandbox.makeCgroup(top, `${slice('burstable', UID_CRIO)}/crio-${ID_APP}.scope/container`));
  const conmon = startSleeper(sandbox.makeCgroup(top, `${slice('burstable', UID_CRIO)}/crio-conmon-${ID_APP}.scope`));
  const ctrd = startSleeper(sandbox.makeCgroup(top, `kubepods.slice/kubepods-pod${UID_CTRD.replaceAll('-', '_')}.slice/cri-containerd-${ID_CTRD}.scope`));
  const cgroupfs = startSleeper(sandbox.makeCgroup(top, `kubepods/besteffort/pod${UID_FS}/${ID_FS}`));

  const logDir = path.join(files, 'var/log/containers');
  const containerdDir = path.join(files, 'run/containerd/io.containerd.runtime.v2.task/k8s.io');
  const dockerDir = path.join(files, 'var/lib/docker/containers');
  mkdirSync(logDir, { recursive: true });
  symlinkSync(`/var/log/pods/team-a_checkout-6c9f_${UID_CRIO}/app/0.log`, path.join(logDir, `checkout-6c9f_team-a_app-${ID_APP}.log`));
  mkdirSync(path.join(containerdDir, ID_CTRD), { recursive: true });
  writeFileSync(
    path.join(containerdDir, ID_CTRD, 'config.json'),
    JSON.stringify({
      annotations: {
        'io.kubernetes.cri.container-type': 'container',
        'io.kubernetes.cri.container-name': 'etcd',
        'io.kubernetes.cri.sandbox-name': 'etcd-cp-0',
        'io.kubernetes.cri.sandbox-namespace': 'kube-system',
        'io.kubernetes.cri.sandbox-uid': UID_CTRD,
      },
    }),
  );
  mkdirSync(path.join(dockerDir, ID_FS), { recursive: true });
  copyFileSync(new URL('../../fixtures/cgroup/containers/docker-config.v2.json', import.meta.url), path.join(dockerDir, ID_FS, 'config.v2.json'));

  const reader = new ProcReader('/proc');
  // the test's parent cgroup stands for the kubelet's cgroup root
  const resolver = new ContainerNameResolver({ hostRoot: files, kubeletCgroupRoot: kubeletCgroupRoot(testRoot) });
  const identityOf = (pid: number) => {
    const v2Path = readPidCgroup(reader, `/proc/${pid}/cgroup`)?.v2Path;
    if (!v2Path?.startsWith(`${testRoot}/`)) assert.fail(`pid ${pid} is in ${v2Path}, not under ${testRoot}`);
    return resolver.resolve(v2Path);
  };

  assert.deepEqual(identityOf(app), {
    podUid: UID_CRIO,
    qos: 'burstable',
    containerId: ID_APP,
    runtime: 'crio',
    namespace: 'team-a',
    pod: 'checkout-6c9f',
    container: 'app',
  });
  assert.deepEqual(identityOf(conmon), {
    podUid: UID_CRIO,
    qos: 'burstable',
    containerId: undefined,
    runtime: 'crio',
    namespace: 'team-a',
    pod: 'checkout-6c9f',
    container: undefined,
  });
  assert.deepEqual(identityOf(ctrd), {
    podUid: UID_CTRD,
    qos: 'guaranteed',
    containerId: ID_CTRD,
    runtime: 'containerd',
    namespace: 'kube-system',
    pod: 'etcd-cp-0',
    container: 'etcd',
  });
  assert.deepEqual(identityOf(cgroupfs), {
    podUid: UID_FS,
    qos: 'besteffort',
    containerId: ID_FS,
    runtime: 'unknown',
    namespace: 'kube-system',
    pod: 'coredns-5d78c9869d-4wq7h',
    container: 'coredns',
  });
  // the test process itself is in no pod
  const own = readPidCgroup(reader, '/proc/self/cgroup')?.v2Path;
  assert.equal(own === undefined ? undefined : resolver.resolve(own), undefined);
});
