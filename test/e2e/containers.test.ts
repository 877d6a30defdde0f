import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { CgroupSandbox, cgroup2MountPoint } from '../helpers/cgroup-sandbox.js';
import { freePort } from '../helpers/namespace.js';

// End to end: real cgroup v2 directories shaped like a node's kubepods tree (CRI-O and containerd
// with the systemd driver, Docker with cgroupfs), real processes moved into them, the kubelet's log
// links and the runtimes' files under a fake host root (--path.rootfs, as in a DaemonSet), the
// exporter started from its CLI, and the groups and labels checked on /metrics.
// The kubepods tree sits under a test-owned parent cgroup, so a real node's kubepods is never touched.

const repo = new URL('../../', import.meta.url).pathname;
const UID_APP = '0c9d3c3e-6f0e-4a55-9d1f-2b8a7e6c5d41';
const UID_ETCD = '7a1e2b3c-4d5e-4f60-8172-93a4b5c6d7e8';
const UID_DNS = '1fdb4384-b32b-40e9-a6d7-139372931aea';
const ID_APP = 'a1'.repeat(32);
const ID_ETCD = 'b2'.repeat(32);
const ID_DNS = 'e5f33b6cada06235e2f7c5429e7558acd418f31fa668b4ea77b7624b72640d18';


const where = cgroup2MountPoint();
const skip = typeof where === 'string' ? false : where.skip;
if (skip) console.log(`# skipping container end-to-end test: ${skip}`);

const sandbox = new CgroupSandbox();
const rootfs = mkdtempSync(path.join(tmpdir(), 'containers-e2e-'));

after(async () => {
  // stop everything we started (the exporter too), then remove the cgroups, deepest first
  await sandbox.cleanup();
  rmSync(rootfs, { recursive: true, force: true });
});




async function scrape(url: string, exporter: ChildProcess, stderr: () => string): Promise<string> {
  for (let attempt = 0; attempt < 100; attempt++) {
    if (exporter.exitCode !== null) assert.fail(`exporter exited with ${exporter.exitCode}:\n${stderr()}`);
    try {
      const res = await fetch(url);
      if (res.ok) return await res.text();
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.fail(`no answer from ${url}:\n${stderr()}`);
}

/** series of one metric: labels -> value */
function series(text: string, metric: string): { labels: Record<string, string>; value: number }[] {
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${metric}{`)) continue;
    const close = line.lastIndexOf('}');
    const labels: Record<string, string> = {};
    for (const m of line.slice(metric.length + 1, close).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[m[1] as string] = m[2] as string;
    out.push({ labels, value: Number(line.slice(close + 1).trim().split(' ')[0]) });
  }
  return out;
}

// spins for 1 s of wall time, says so, then idles until killed
const BUSY = 'const end = Date.now() + 1000; while (Date.now() < end); process.stdout.write("spun\\n"); setInterval(() => {}, 1e6);';

const CONFIG = `
process_names:
  - name: "{{.Namespace}}/{{.Pod}}/{{if .Container}}{{.Container}}{{else}}(pod){{end}}"
    container: {}
    labels:
      namespace: "{{.Namespace}}"
      pod: "{{.Pod}}"
      container: "{{.Container}}"
      class: '{{if match .Namespace "kube-.*|openshift-.*"}}infra{{else}}workload{{end}}'
`;

test('pods and containers become groups with namespace/pod/container labels on /metrics', { skip, timeout: 60_000 }, async () => {
  const mount = where as string;
  const top = sandbox.makeCgroup(mount, `procgroup-exporter-e2e-${process.pid}`);
  const slice = (qos: string, uid: string) => `kubepods.slice/kubepods-${qos}.slice/kubepods-${qos}-pod${uid.replaceAll('-', '_')}.slice`;

  // CRI-O, burstable: two processes in the app container, one conmon at pod level
  const appScope = sandbox.makeCgroup(top, `${slice('burstable', UID_APP)}/crio-${ID_APP}.scope`);
  sandbox.startIn(appScope, 'sleep', ['300']);
  sandbox.startIn(appScope, 'sleep', ['300']);
  sandbox.startIn(sandbox.makeCgroup(top, `${slice('burstable', UID_APP)}/crio-conmon-${ID_APP}.scope`), 'sleep', ['300']);
  // containerd, guaranteed, named only by its bundle's config.json (its process starts later)
  const etcdScope = sandbox.makeCgroup(top, `kubepods.slice/kubepods-pod${UID_ETCD.replaceAll('-', '_')}.slice/cri-containerd-${ID_ETCD}.scope`);
  // Docker with the cgroupfs driver, best-effort, named by config.v2.json
  sandbox.startIn(sandbox.makeCgroup(top, `kubepods/besteffort/pod${UID_DNS}/${ID_DNS}`), 'sleep', ['300']);
  // not in a pod: must stay out of every container group
  sandbox.adopt(spawn('sleep', ['300'], { stdio: 'ignore' }));

  const logDir = path.join(rootfs, 'var/log/containers');
  mkdirSync(logDir, { recursive: true });
  symlinkSync(`/var/log/pods/team-a_checkout-6c9f_${UID_APP}/app/0.log`, path.join(logDir, `checkout-6c9f_team-a_app-${ID_APP}.log`));
  const ctrd = path.join(rootfs, 'run/containerd/io.containerd.runtime.v2.task/k8s.io', ID_ETCD);
  mkdirSync(ctrd, { recursive: true });
  writeFileSync(
    path.join(ctrd, 'config.json'),
    JSON.stringify({
      annotations: {
        'io.kubernetes.cri.container-type': 'container',
        'io.kubernetes.cri.container-name': 'etcd',
        'io.kubernetes.cri.sandbox-name': 'etcd-cp-0',
        'io.kubernetes.cri.sandbox-namespace': 'kube-system',
        'io.kubernetes.cri.sandbox-uid': UID_ETCD,
      },
    }),
  );
  const docker = path.join(rootfs, 'var/lib/docker/containers', ID_DNS);
  mkdirSync(docker, { recursive: true });
  copyFileSync(new URL('../fixtures/cgroup/containers/docker-config.v2.json', import.meta.url), path.join(docker, 'config.v2.json'));
  const configFile = path.join(rootfs, 'config.yaml');
  writeFileSync(configFile, CONFIG);

  const port = await freePort();
  let stderr = '';
  const exporter = spawn(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'serve', `--config.path=${configFile}`, `--web.listen-address=127.0.0.1:${port}`, `--path.rootfs=${rootfs}`, '--collect.min-interval=0',
      // the test's parent cgroup stands for the kubelet's cgroup root
      `--kubelet.cgroup-root=/${path.relative(mount, top)}`],
    { cwd: repo, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  sandbox.adopt(exporter);
  exporter.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `http://127.0.0.1:${port}/metrics`;
  await scrape(url, exporter, () => stderr);
  // a process that appears after the first cycle and burns 1 s of CPU before the next scrape
  // (the exporter walks /proc only on scrape, so it first sees the process inside its cgroup)
  const busy = sandbox.startIn(etcdScope, process.execPath, ['-e', BUSY], ['ignore', 'pipe', 'ignore']);
  await new Promise((resolve) => busy.stdout?.once('data', resolve));
  const text = await scrape(url, exporter, () => stderr);

  const procs = series(text, 'namedprocess_namegroup_num_procs');
  const byGroup = new Map(procs.map((s) => [s.labels['groupname'], s]));
  assert.deepEqual(
    [...byGroup.keys()].sort(),
    ['kube-system/coredns-5d78c9869d-4wq7h/coredns', 'kube-system/etcd-cp-0/etcd', 'team-a/checkout-6c9f/(pod)', 'team-a/checkout-6c9f/app'],
    text,
  );
  assert.deepEqual(byGroup.get('team-a/checkout-6c9f/app'), {
    labels: { groupname: 'team-a/checkout-6c9f/app', namespace: 'team-a', pod: 'checkout-6c9f', container: 'app', class: 'workload' },
    value: 2,
  });
  assert.deepEqual(byGroup.get('team-a/checkout-6c9f/(pod)'), {
    labels: { groupname: 'team-a/checkout-6c9f/(pod)', namespace: 'team-a', pod: 'checkout-6c9f', container: '', class: 'workload' },
    value: 1,
  });
  assert.deepEqual(byGroup.get('kube-system/etcd-cp-0/etcd'), {
    labels: { groupname: 'kube-system/etcd-cp-0/etcd', namespace: 'kube-system', pod: 'etcd-cp-0', container: 'etcd', class: 'infra' },
    value: 1,
  });
  assert.deepEqual(byGroup.get('kube-system/coredns-5d78c9869d-4wq7h/coredns')?.labels.class, 'infra');

  // the busy container's CPU lands in its group
  const cpu = series(text, 'namedprocess_namegroup_cpu_seconds_total').filter((s) => s.labels['groupname'] === 'kube-system/etcd-cp-0/etcd');
  const total = cpu.reduce((sum, s) => sum + s.value, 0);
  assert.ok(total > 0.2 && total < 5, `etcd group CPU ${total}s after 1 s of spinning`);
});
