/**
 * Attack on labels: anyone with a delegated cgroup (systemd's `user@<uid>.service`, Delegate=yes)
 * can create kubepods-looking cgroups below it and move their own processes in, naming a real
 * pod's UID and container ID. Only the kubelet's own kubepods hierarchy, directly at
 * -kubelet.cgroup-root, may give a process a pod identity: the spoofed processes must get no
 * namespace/pod/container labels, while a process in the same layout at the configured root does.
 *
 * Real cgroup v2 directories under a test-owned parent, which stands for the kubelet's cgroup root:
 *   <top>/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid>.slice/crio-<id>.scope   the real container
 *   <top>/user.slice/user-1000.slice/user@1000.service                                                  delegated to uid 1000
 * An unprivileged process (uid 1000) in the delegated cgroup creates, below it, the full kubepods
 * chain and the single pod slice of the issue, with the real pod's UID and container ID, and moves
 * itself in, as an attacker would (the kernel allows it: it owns the common ancestor's cgroup.procs).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { CgroupSandbox, cgroup2MountPoint } from '../helpers/cgroup-sandbox.js';
import { startExporter, waitFor } from '../helpers/exporter-process.js';
import { find, parseExposition } from '../helpers/exposition.js';
import { hasCommand } from '../helpers/namespace.js';

const where = cgroup2MountPoint();
const skip = typeof where !== 'string' ? where.skip : !hasCommand('setpriv') && 'needs setpriv (util-linux) to run the attacker unprivileged';
if (skip) console.log(`# skipped: ${skip}`);

const ATTACKER_UID = 1000;
const UID = '7b0e4f2a-3c1d-4e5f-8a9b-0c1d2e3f4a5b';
const UID_ = UID.replaceAll('-', '_');
const ID = 'e7'.repeat(32);
const REAL_CHAIN = `kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/crio-${ID}.scope`;
// below the delegated cgroup: the kubelet's whole chain, and the single pod slice
const SPOOFS = { 'pgx-spoof-chain': REAL_CHAIN, 'pgx-spoof-pod': `kubepods-besteffort-pod${UID_}.slice/crio-${ID}.scope` };

const sandbox = new CgroupSandbox();
const work = mkdtempSync(path.join(tmpdir(), 'pgx-spoof-'));
after(async () => {
  await sandbox.cleanup();
  rmSync(work, { recursive: true, force: true });
});

/** /bin/sleep under `name`, executable by the attacker (the comm the config groups by) */
function sleeper(name: string): string {
  const bin = path.join(work, 'bin');
  mkdirSync(bin, { recursive: true, mode: 0o755 });
  const file = path.join(bin, name);
  copyFileSync('/bin/sleep', file);
  chmodSync(file, 0o755);
  return file;
}

const CONFIG = `process_names:
  - name: "{{.Comm}}"
    comm: [pgx-real, pgx-spoof-chain, pgx-spoof-pod]
    labels:
      namespace: "{{.Namespace}}"
      pod: "{{.Pod}}"
      container: "{{.Container}}"
      pod_uid: "{{.PodUID}}"
`;

test('kubepods-looking cgroups below a delegated cgroup give no pod identity; the kubelet root\'s do', { skip, timeout: 120_000 }, async () => {
  chmodSync(work, 0o755);
  const mount = where as string;
  const top = sandbox.makeCgroup(mount, `procgroup-spoof-${process.pid}`);
  const kubeletRoot = `/${path.relative(mount, top)}`;

  // the real container, and the kubelet's log link that names it
  sandbox.startIn(sandbox.makeCgroup(top, REAL_CHAIN), sleeper('pgx-real'), ['300']);
  const rootfs = path.join(work, 'rootfs');
  mkdirSync(path.join(rootfs, 'var/log/containers'), { recursive: true });
  symlinkSync(`/var/log/pods/kube-system_etcd-cp-0_${UID}/etcd/0.log`, path.join(rootfs, 'var/log/containers', `etcd-cp-0_kube-system_etcd-${ID}.log`));

  // delegation as systemd does it: the user's manager cgroup and its interface files belong to the user
  const delegated = sandbox.makeCgroup(top, `user.slice/user-${ATTACKER_UID}.slice/user@${ATTACKER_UID}.service`);
  for (const f of ['', 'cgroup.procs', 'cgroup.subtree_control', 'cgroup.threads']) chownSync(path.join(delegated, f), ATTACKER_UID, ATTACKER_UID);

  // the attacker: unprivileged, started in the delegated cgroup; it builds the fake pod there and moves in
  const attack = 'read go; mkdir -p "$1" && echo $$ > "$1/cgroup.procs" && exec "$2" 300';
  for (const [name, chain] of Object.entries(SPOOFS)) {
    const child = sandbox.adopt(spawn('setpriv', [`--reuid=${ATTACKER_UID}`, `--regid=${ATTACKER_UID}`, '--clear-groups', 'sh', '-c', attack, 'sh', path.join(delegated, chain), sleeper(name)], {
      stdio: ['pipe', 'ignore', 'pipe'],
    }));
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    writeFileSync(path.join(delegated, 'cgroup.procs'), String(child.pid));
    child.stdin?.end('go\n');
    const want = `0::${kubeletRoot}/user.slice/user-${ATTACKER_UID}.slice/user@${ATTACKER_UID}.service/${chain}\n`;
    await waitFor(`${name} in its fake pod cgroup`, () => {
      assert.equal(child.exitCode, null, `the attacker failed: ${stderr}`);
      return readFileSync(`/proc/${child.pid}/cgroup`, 'utf8').endsWith(want) && readFileSync(`/proc/${child.pid}/comm`, 'utf8') === `${name}\n` ? true : undefined;
    });
    assert.equal(readFileSync(`/proc/${child.pid}/status`, 'utf8').match(/^Uid:\s+(\d+)/m)?.[1], String(ATTACKER_UID), 'the attacker is unprivileged');
    // the attacker's cgroups (the two chains share no level) go with the sandbox's, removed deepest first
    const parts = chain.split('/');
    for (let i = 1; i <= parts.length; i++) sandbox.adoptCgroup(path.join(delegated, ...parts.slice(0, i)));
  }

  const config = path.join(work, 'config.yaml');
  writeFileSync(config, CONFIG);
  const labelsOf = async (args: string[]) => {
    const ex = await startExporter(['-config.path', config, '-path.rootfs', rootfs, '-collect.min-interval', '0s', ...args]);
    try {
      const r = await ex.scrape();
      assert.equal(r.status, 200);
      const exposition = parseExposition(r.text);
      const out: Record<string, Record<string, string> | undefined> = {};
      for (const name of ['pgx-real', ...Object.keys(SPOOFS)]) {
        const s = find(exposition, 'namedprocess_namegroup_num_procs', { groupname: name })[0];
        assert.equal(s?.value, 1, `${name}: one process\n${r.text}`);
        const { namespace, pod, container, pod_uid } = s.labels;
        out[name] = { namespace: namespace ?? '', pod: pod ?? '', container: container ?? '', pod_uid: pod_uid ?? '' };
      }
      return out;
    } finally {
      await ex.stop();
    }
  };
  const none = { namespace: '', pod: '', container: '', pod_uid: '' };
  const etcd = { namespace: 'kube-system', pod: 'etcd-cp-0', container: 'etcd', pod_uid: UID };

  assert.deepEqual(await labelsOf(['-kubelet.cgroup-root', kubeletRoot]), { 'pgx-real': etcd, 'pgx-spoof-chain': none, 'pgx-spoof-pod': none });
  // with the default root (/), the test's tree is no kubelet's at all: nothing in it is a pod
  assert.deepEqual(await labelsOf([]), { 'pgx-real': none, 'pgx-spoof-chain': none, 'pgx-spoof-pod': none });
});
