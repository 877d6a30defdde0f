import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { parseMountInfo } from '../../src/cgroup/mountinfo.js';
import { cgroup2MountPoint } from '../helpers/cgroup-sandbox.js';
import { repoRoot, startExporter, type ExporterProcess } from '../helpers/exporter-process.js';
import { hasCommand, sampleSum, samples } from '../helpers/namespace.js';

// End to end with a real container runtime: podman starts containers through conmon and runc, with
// kubepods cgroup parents and the annotations CRI-O and containerd write, from a busybox-static
// directory (`--rootfs`, no image registry). The exporter reads the real /proc, the real cgroups and
// podman's real bundles under /var/lib/containers. Checked with config/default.yaml (pods fold into
// `conmon`) and config/examples/openshift-containers.yaml (namespace/pod/container labels), plus a
// container no source names. CPU of the spinning container is compared with its cgroup's cpu.stat.
//
// podman's --runtime is a wrapper the test writes: it edits the bundle's config.json, then execs runc.
// - process.rlimits is removed: runc's setrlimit needs CAP_SYS_RESOURCE, which some VMs lack.
// - annotation e2e.cgroups-path, when present, replaces linux.cgroupsPath ({id}: the container ID):
//   podman's cgroupfs manager always names the container cgroup libpod-<id> and refuses .slice
//   parents, while CRI-O with the systemd driver gives runc `.../kubepods-<qos>-pod<uid>.slice/crio-<id>.scope`.
// runc rather than crun: crun refuses hybrid (v1 + unified) cgroup hierarchies.
// Every cgroup lives under a test-owned top directory, so a real node's kubepods is never touched.

const run = promisify(execFile);
const TOOLS = ['podman', 'conmon', 'runc', 'busybox'];

function skipReason(): string | false {
  if (process.getuid?.() !== 0) return 'needs root to run podman with cgroup parents';
  const missing = TOOLS.filter((t) => !hasCommand(t));
  if (missing.length) return `missing ${missing.join(', ')} (apt-get install podman conmon runc busybox-static; .ci/run does)`;
  const mount = cgroup2MountPoint();
  return typeof mount === 'string' ? false : mount.skip;
}
const skip = skipReason();
if (skip) console.log(`# skipping container runtime end-to-end test: ${skip}`);

const TOP = `procgroup-e2e-runtime-${process.pid}`;
const tag = `pge2e-${process.pid}`;
const work = mkdtempSync(path.join(tmpdir(), 'container-runtime-e2e-'));
const names: string[] = [];
const exporters: ExporterProcess[] = [];

/** every cgroup mount point (v1 hierarchies and the v2 one): runc creates the parents in each */
function cgroupMounts(): string[] {
  return parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'), '/proc/self/mountinfo')
    .filter((m) => m.fsType === 'cgroup' || m.fsType === 'cgroup2')
    .map((m) => m.mountPoint);
}

/** rmdir deepest first; a cgroup stays busy until its last process (a conmon after `podman rm`) has exited */
async function removeTree(dir: string): Promise<void> {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) await removeTree(path.join(dir, e.name));
  for (let attempt = 0; ; attempt++) {
    try {
      rmdirSync(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EBUSY' || attempt === 100) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

after(async () => {
  for (const e of exporters) await e.stop();
  if (names.length) await run('podman', ['rm', '-f', '-t', '0', ...names]).catch((err: Error) => console.log(`# podman rm: ${err.message}`));
  // the wrapper is no longer needed once podman rm returned
  rmSync(work, { recursive: true, force: true });
  for (const mount of skip ? [] : cgroupMounts()) await removeTree(path.join(mount, TOP));
});

const wrapper = path.join(work, 'runc-wrapper');
const rootfs = path.join(work, 'rootfs');

before(() => {
  if (skip) return;
  mkdirSync(path.join(rootfs, 'bin'), { recursive: true });
  for (const d of ['proc', 'sys', 'dev', 'etc', 'tmp']) mkdirSync(path.join(rootfs, d));
  copyFileSync(resolveCommand('busybox'), path.join(rootfs, 'bin/busybox'));
  chmodSync(path.join(rootfs, 'bin/busybox'), 0o755);
  symlinkSync('busybox', path.join(rootfs, 'bin/sh'));
  symlinkSync('busybox', path.join(rootfs, 'bin/sleep'));
  const fix = path.join(work, 'fix-bundle.cjs');
  writeFileSync(
    fix,
    `const fs = require('node:fs'), path = require('node:path');
const args = process.argv.slice(2);
let bundle = process.cwd();
for (let i = args.indexOf('create') + 1; i < args.length; i++) {
  if (args[i] === '--bundle' || args[i] === '-b') bundle = args[i + 1];
  else if (args[i].startsWith('--bundle=')) bundle = args[i].slice(9);
}
const file = path.join(bundle, 'config.json');
const spec = JSON.parse(fs.readFileSync(file, 'utf8'));
if (spec.process) delete spec.process.rlimits;
const want = spec.annotations && spec.annotations['e2e.cgroups-path'];
if (want) spec.linux.cgroupsPath = want.replace('{id}', args[args.length - 1]);
fs.writeFileSync(file, JSON.stringify(spec));
`,
  );
  writeFileSync(
    wrapper,
    `#!/bin/sh\ncase " $* " in *" create "*) "${process.execPath}" "${fix}" "$@" || exit 1 ;; esac\nexec "${resolveCommand('runc')}" "$@"\n`,
  );
  chmodSync(wrapper, 0o755);
});

function resolveCommand(cmd: string): string {
  for (const dir of (process.env['PATH'] ?? '').split(':')) {
    const p = path.join(dir, cmd);
    if (existsSync(p)) return p;
  }
  throw new Error(`${cmd} not on PATH`);
}

interface Started {
  id: string;
  pid: number;
  /** the container's cgroup v2 directory */
  cgroupDir: string;
}

async function startContainer(name: string, opts: { cgroupParent: string; annotations: Record<string, string>; command: string }): Promise<Started> {
  const full = `${tag}-${name}`;
  names.push(full);
  const args = ['run', '-d', '--name', full, '--runtime', wrapper, '--network', 'none', '--cpus', '0.5', `--cgroup-parent=${opts.cgroupParent}`];
  for (const [k, v] of Object.entries(opts.annotations)) args.push('--annotation', `${k}=${v}`);
  // --rootfs takes the directory as the first positional argument: every option goes before it
  args.push('--rootfs', rootfs, '/bin/sh', '-c', opts.command);
  const { stdout: id } = await run('podman', args);
  const { stdout: pid } = await run('podman', ['inspect', '-f', '{{.State.Pid}}', full]);
  const v2 = /^0::(.*)$/m.exec(readFileSync(`/proc/${pid.trim()}/cgroup`, 'utf8'))?.[1];
  assert.ok(v2, `container ${full} has no cgroup v2 path`);
  return { id: id.trim(), pid: Number(pid), cgroupDir: path.join(cgroup2MountPoint() as string, v2) };
}

/** usage_usec of a cgroup's cpu.stat, in seconds */
function cgroupCpu(dir: string): number {
  const m = /^usage_usec (\d+)$/m.exec(readFileSync(path.join(dir, 'cpu.stat'), 'utf8'));
  assert.ok(m, `no usage_usec in ${dir}/cpu.stat`);
  return Number(m[1]) / 1e6;
}

const groupCpu = (text: string, groupname: string): number => sampleSum(text, 'namedprocess_namegroup_cpu_seconds_total', { groupname });

/** one line of namedprocess_namegroup_num_procs as its full label set */
function numProcs(text: string, groupname: string): string | undefined {
  return text.split('\n').find((l) => l.startsWith('namedprocess_namegroup_num_procs{') && l.includes(`groupname="${groupname}"`));
}

// spins the CPU (busybox's `:` is a builtin: one process, no forks)
const SPIN = 'while :; do :; done';

test('a real runtime: pods fold into conmon, containers get namespace/pod/container labels, an unnamed one its short ID; CPU matches cpu.stat', { skip, timeout: 240_000 }, async () => {
  const crioUid = randomUUID();
  const ctrdUid = randomUUID();
  const anonUid = randomUUID();
  // CRI-O's annotations and cgroup naming with the systemd driver: .../kubepods-burstable-pod<uid>.slice/crio-<id>.scope
  const slice = `kubepods-burstable-pod${crioUid.replaceAll('-', '_')}.slice`;
  const app = await startContainer('app', {
    cgroupParent: `/${TOP}/kubepods/burstable/pod${crioUid}`,
    annotations: {
      'e2e.cgroups-path': `/${TOP}/kubepods.slice/kubepods-burstable.slice/${slice}/crio-{id}.scope`,
      'io.kubernetes.pod.name': 'checkout-6c9f',
      'io.kubernetes.pod.namespace': 'team-a',
      'io.kubernetes.pod.uid': crioUid,
      'io.kubernetes.container.name': 'app',
      'io.kubernetes.cri-o.ContainerType': 'container',
    },
    command: SPIN,
  });
  assert.ok(app.cgroupDir.endsWith(`/${slice}/crio-${app.id}.scope`), app.cgroupDir);
  // containerd's annotations, cgroupfs driver (podman's own naming): /kubepods/besteffort/pod<uid>/libpod-<id>
  const etcd = await startContainer('etcd', {
    cgroupParent: `/${TOP}/kubepods/besteffort/pod${ctrdUid}`,
    annotations: {
      'io.kubernetes.cri.container-type': 'container',
      'io.kubernetes.cri.container-name': 'etcd',
      'io.kubernetes.cri.sandbox-name': 'etcd-cp-0',
      'io.kubernetes.cri.sandbox-namespace': 'kube-system',
      'io.kubernetes.cri.sandbox-uid': ctrdUid,
    },
    command: 'sleep 1000',
  });
  assert.ok(etcd.cgroupDir.endsWith(`/pod${ctrdUid}/libpod-${etcd.id}`), etcd.cgroupDir);
  // no Kubernetes annotations at all, guaranteed QoS: no source can name it
  const anon = await startContainer('anon', { cgroupParent: `/${TOP}/kubepods/pod${anonUid}`, annotations: {}, command: 'sleep 1000' });

  // the test's top cgroup stands for the kubelet's cgroup root
  const containersExample = await startExporter(['--config.path', path.join(repoRoot, 'config/examples/openshift-containers.yaml'), '--collect.min-interval=0', `--kubelet.cgroup-root=/${TOP}`]);
  exporters.push(containersExample);
  const defaults = await startExporter(['--config.path', path.join(repoRoot, 'config/default.yaml'), '--collect.min-interval=0']);
  exporters.push(defaults);

  // each exporter's start-up cycle must be over before the window opens: a scrape that arrives
  // while a cycle runs gets that cycle's answer, whose readings may predate the freeze
  await Promise.all([containersExample.scrape(), defaults.scrape()]);

  // CPU window: the spinning container is frozen (podman pause: the cgroup freezer) while the
  // exporters scrape, so its cpu.stat cannot move between our read and theirs
  const pause = (verb: 'pause' | 'unpause') => run('podman', [verb, `${tag}-app`]);
  await pause('pause');
  const r0 = cgroupCpu(app.cgroupDir);
  const [c1, d1] = await Promise.all([containersExample.scrape(), defaults.scrape()]);
  assert.equal(cgroupCpu(app.cgroupDir), r0, 'frozen during the first scrape');
  await pause('unpause');
  await new Promise((r) => setTimeout(r, 4000));
  await pause('pause');
  const r1 = cgroupCpu(app.cgroupDir);
  const [c2, d2] = await Promise.all([containersExample.scrape(), defaults.scrape()]);
  assert.equal(cgroupCpu(app.cgroupDir), r1, 'frozen during the second scrape');
  await pause('unpause');
  for (const s of [c1, d1, c2, d2]) assert.equal(s.status, 200);

  // --- config/examples/openshift-containers.yaml: one group per container, with its labels
  const appGroup = 'team-a/checkout-6c9f/app';
  assert.equal(
    numProcs(c2.text, appGroup),
    `namedprocess_namegroup_num_procs{groupname="${appGroup}",class="workload",container="app",namespace="team-a",pod="checkout-6c9f"} 1`,
    c2.text.split('\n').filter((l) => l.startsWith('namedprocess_namegroup_num_procs')).join('\n'),
  );
  assert.equal(
    numProcs(c2.text, 'kube-system/etcd-cp-0/etcd'),
    'namedprocess_namegroup_num_procs{groupname="kube-system/etcd-cp-0/etcd",class="infra",container="etcd",namespace="kube-system",pod="etcd-cp-0"} 1',
    c2.text.split('\n').filter((l) => l.startsWith('namedprocess_namegroup_num_procs')).join('\n'),
  );
  assert.equal(
    numProcs(c2.text, 'kube-system/etcd-cp-0/etcd'),
    'namedprocess_namegroup_num_procs{groupname="kube-system/etcd-cp-0/etcd",class="infra",container="etcd",namespace="kube-system",pod="etcd-cp-0"} 1',
  );
  const short = anon.id.slice(0, 12);
  assert.equal(
    numProcs(c2.text, `pod${anonUid}/${short}`),
    `namedprocess_namegroup_num_procs{groupname="pod${anonUid}/${short}",class="workload",container="${short}",namespace="",pod=""} 1`,
  );
  assert.doesNotMatch(c2.text, /groupname="[^"]*\/\/[^"]*"/, 'no group with an empty name part');
  assert.match(containersExample.log(), new RegExp(`no source names this container: named by its short ID" container=${short} container_id=${anon.id}`));
  assert.equal(containersExample.log().split('no source names this container').length - 1, 1, 'logged once, for the one unnamed container');

  const appCpu = groupCpu(c2.text, appGroup) - groupCpu(c1.text, appGroup);
  const cgroupDelta = r1 - r0;
  // /proc/<pid>/stat counts whole clock ticks (USER_HZ = 100): each reading may be up to a tick short
  const tick = 0.01;
  console.log(`# container CPU over the window: group ${appCpu.toFixed(3)} s, cgroup cpu.stat usage ${cgroupDelta.toFixed(6)} s, difference ${(appCpu - cgroupDelta).toFixed(3)} s`);
  assert.ok(cgroupDelta > 0.5, `the container spun (${cgroupDelta} s of CPU)`);
  assert.ok(Math.abs(appCpu - cgroupDelta) <= 2 * tick, `group ${appCpu} s vs cpu.stat ${cgroupDelta} s`);

  // --- config/default.yaml: every container process folds into its conmon, the group `conmon`
  const conmonCpu = groupCpu(d2.text, 'conmon') - groupCpu(d1.text, 'conmon');
  console.log(`# conmon group CPU over the window (default config): ${conmonCpu.toFixed(3)} s`);
  assert.ok(conmonCpu >= cgroupDelta - 2 * tick, `conmon ${conmonCpu} s holds the container's ${cgroupDelta} s`);
  // three conmons and their three container processes, at least (other conmons on the host may add)
  assert.ok((samples(d2.text, 'namedprocess_namegroup_num_procs', { groupname: 'conmon' })[0] ?? 0) >= 6, numProcs(d2.text, 'conmon'));
});
