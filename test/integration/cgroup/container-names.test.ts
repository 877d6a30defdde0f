import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { ContainerNameResolver, type ContainerNameResolverOptions } from '../../../src/cgroup/container-names.js';
import type { ExporterError } from '../../../src/errors.js';

// A node's files laid out in a temp dir: kubelet log links (dangling, as inside a DaemonSet where
// they point to the host's /var/log/pods), CRI-O and containerd bundles, Docker containers.

const fixture = (name: string): string => new URL(`../../fixtures/cgroup/containers/${name}`, import.meta.url).pathname;

const root = mkdtempSync(path.join(tmpdir(), 'container-names-'));
after(() => rmSync(root, { recursive: true, force: true }));

const CRIO_POD = '869cf449-9254-42a9-a3f3-635768904276';
const CRIO_CTR = '18c5c007ff7f8fa8c3412987b15c1ccaea766bd6d6ed47af707eccad680eb2b9';
const CRIO_SANDBOX = '70c4b4ba0d919bdddaa3a711ecadb82e50a4fdfa95cc3b8728ecea135baa9565';
const CRIO_PROXY = '23aa80699b61e4aabb600679ce4c3dbda3246136f1e4291f22e3d90173738c33';
const CTRD_POD = '3697790b-a759-48ca-84bd-abf59b0ebd73';
const CTRD_CTR = '243b3bff3dcbe37dabd58d1cb01b3b84ce0d310e3194870197848a21b50be0d9';
const CTRD_SANDBOX = 'cb03047556c6e41f539ee67fe31160968039496114fb0f4e9ae2f0927cc8344d';
const DOCKER_POD = '1fdb4384-b32b-40e9-a6d7-139372931aea';
const DOCKER_CTR = 'e5f33b6cada06235e2f7c5429e7558acd418f31fa668b4ea77b7624b72640d18';
const LOG_ONLY_POD = '40374e87-e2ad-4001-9fec-3477ba150fc5';
const LOG_ONLY_CTR = '4a4fafc89409d4faca9493ddb31507fc7dc7c2889fc7cc7c7370e3615984f1e8';
const NOWHERE_CTR = 'ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff';

const crioScope = (uid: string, name: string) =>
  `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid.replaceAll('-', '_')}.slice/${name}`;
const containerdScope = (uid: string, name: string) =>
  `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${uid.replaceAll('-', '_')}.slice/${name}`;

function layout(name: string) {
  const base = path.join(root, name);
  const dirs = {
    hostRoot: base,
    logDir: path.join(base, 'var/log/containers'),
    crioDir: path.join(base, 'run/containers/storage/overlay-containers'),
    containerdDir: path.join(base, 'run/containerd/io.containerd.runtime.v2.task/k8s.io'),
    dockerDir: path.join(base, 'var/lib/docker/containers'),
  };
  for (const dir of Object.values(dirs)) mkdirSync(dir, { recursive: true });
  const link = (pod: string, ns: string, ctr: string, id: string, uid: string) =>
    symlinkSync(`/var/log/pods/${ns}_${pod}_${uid}/${ctr}/0.log`, path.join(dirs.logDir, `${pod}_${ns}_${ctr}-${id}.log`));
  link('node-exporter-x7k2p', 'openshift-monitoring', 'node-exporter', CRIO_CTR, CRIO_POD);
  link('api-5f7c9d8b6-hx2lq', 'payments', 'api', LOG_ONLY_CTR, LOG_ONLY_POD);
  writeFileSync(path.join(dirs.logDir, 'unrelated.txt'), 'not a container log\n');
  const bundle = (dir: string, id: string, file: string, src: string) => {
    mkdirSync(path.join(dir, id, path.dirname(file)), { recursive: true });
    copyFileSync(fixture(src), path.join(dir, id, file));
  };
  bundle(dirs.crioDir, CRIO_CTR, 'userdata/config.json', 'crio-container-config.json');
  bundle(dirs.crioDir, CRIO_SANDBOX, 'userdata/config.json', 'crio-sandbox-config.json');
  bundle(dirs.containerdDir, CTRD_CTR, 'config.json', 'containerd-container-config.json');
  bundle(dirs.containerdDir, CTRD_SANDBOX, 'config.json', 'containerd-sandbox-config.json');
  bundle(dirs.dockerDir, DOCKER_CTR, 'config.v2.json', 'docker-config.v2.json');
  return dirs;
}

function resolverFor(name: string, extra: ContainerNameResolverOptions = {}) {
  const dirs = layout(name);
  const errors: ExporterError[] = [];
  const resolver = new ContainerNameResolver({ hostRoot: dirs.hostRoot, onError: (e) => errors.push(e), ...extra });
  return { dirs, errors, resolver };
}

test('a container named by its log link (dangling symlink), then by the cache', () => {
  const { resolver, errors } = resolverFor('log-link');
  const path = crioScope(CRIO_POD, `crio-${CRIO_CTR}.scope`);
  const want = {
    podUid: CRIO_POD,
    qos: 'burstable',
    containerId: CRIO_CTR,
    runtime: 'crio',
    namespace: 'openshift-monitoring',
    pod: 'node-exporter-x7k2p',
    container: 'node-exporter',
  };
  assert.deepEqual(resolver.resolve(path), want);
  assert.deepEqual(resolver.stats, { logDirListings: 1, runtimeFileLookups: 0 });
  // many processes of the same container: no more file system work
  for (let i = 0; i < 100; i++) assert.deepEqual(resolver.resolve(`${path}/container`), want);
  assert.deepEqual(resolver.stats, { logDirListings: 1, runtimeFileLookups: 0 });
  assert.deepEqual(errors, []);
});

test('pod-level processes: names through the pod UID of the log link target', () => {
  const { resolver } = resolverFor('pod-level-link');
  // CRI-O's conmon of a container no one has asked about yet
  assert.deepEqual(resolver.resolve(crioScope(LOG_ONLY_POD, `crio-conmon-${LOG_ONLY_CTR}.scope`)), {
    podUid: LOG_ONLY_POD,
    qos: 'burstable',
    containerId: undefined,
    runtime: 'crio',
    namespace: 'payments',
    pod: 'api-5f7c9d8b6-hx2lq',
    container: undefined,
  });
  // a pod no file knows
  const unknown = resolver.resolve(crioScope(NOWHERE_CTR.slice(0, 32), ''));
  assert.equal(unknown?.podUid, NOWHERE_CTR.slice(0, 32));
  assert.equal(unknown?.namespace, undefined);
  assert.equal(unknown?.pod, undefined);
});

test('pod-level processes: names through a container of the same pod resolved from config.json', () => {
  const { resolver } = resolverFor('pod-level-config');
  const sandbox = resolver.resolve(containerdScope(CTRD_POD, `cri-containerd-${CTRD_SANDBOX}.scope`));
  assert.deepEqual(
    { namespace: sandbox?.namespace, pod: sandbox?.pod, container: sandbox?.container, runtime: sandbox?.runtime },
    { namespace: 'shop', pod: 'web-7d4b9c6f5d-q2x8z', container: 'POD', runtime: 'containerd' },
  );
  const podLevel = resolver.resolve(containerdScope(CTRD_POD, ''));
  assert.deepEqual(
    { namespace: podLevel?.namespace, pod: podLevel?.pod, container: podLevel?.container, containerId: podLevel?.containerId },
    { namespace: 'shop', pod: 'web-7d4b9c6f5d-q2x8z', container: undefined, containerId: undefined },
  );
});

test('no log link: the runtime bundle names the container (CRI-O sandbox, containerd, Docker on cgroupfs)', () => {
  const { resolver, errors } = resolverFor('bundles');
  const crioSandbox = resolver.resolve(crioScope(CRIO_POD, `crio-${CRIO_SANDBOX}.scope`));
  assert.deepEqual([crioSandbox?.namespace, crioSandbox?.pod, crioSandbox?.container], ['openshift-monitoring', 'node-exporter-x7k2p', 'POD']);
  const ctrd = resolver.resolve(containerdScope(CTRD_POD, `cri-containerd-${CTRD_CTR}.scope`));
  assert.deepEqual([ctrd?.namespace, ctrd?.pod, ctrd?.container], ['shop', 'web-7d4b9c6f5d-q2x8z', 'web']);
  // cgroupfs does not name the runtime: every runtime's directory is tried
  const docker = resolver.resolve(`/kubepods/burstable/pod${DOCKER_POD}/${DOCKER_CTR}`);
  assert.deepEqual(docker, {
    podUid: DOCKER_POD,
    qos: 'burstable',
    containerId: DOCKER_CTR,
    runtime: 'unknown',
    namespace: 'kube-system',
    pod: 'coredns-5d78c9869d-4wq7h',
    container: 'coredns',
  });
  // CRI-O sandbox 1 (runroot), containerd 1 (v2 task dir); cgroupfs names no runtime, so every
  // location before Docker's: CRI-O runroot and root, containerd v2, v1 and k3s, Docker
  assert.equal(resolver.stats.runtimeFileLookups, 8);
  assert.deepEqual(errors, []);
});

test('the log dir is listed again for a new ID only when the rate limit allows', () => {
  const { resolver, dirs } = resolverFor('refresh', { minRefreshIntervalMs: 0 });
  resolver.resolve(crioScope(CRIO_POD, `crio-${CRIO_CTR}.scope`));
  assert.equal(resolver.stats.logDirListings, 1);
  symlinkSync(
    `/var/log/pods/payments_api-5f7c9d8b6-hx2lq_${LOG_ONLY_POD}/sidecar/0.log`,
    path.join(dirs.logDir, `api-5f7c9d8b6-hx2lq_payments_sidecar-${CRIO_PROXY}.log`),
  );
  const sidecar = resolver.resolve(crioScope(LOG_ONLY_POD, `crio-${CRIO_PROXY}.scope`));
  assert.equal(sidecar?.container, 'sidecar');
  assert.equal(resolver.stats.logDirListings, 2);
  // known IDs never list again
  resolver.resolve(crioScope(LOG_ONLY_POD, `crio-${CRIO_PROXY}.scope`));
  resolver.resolve(crioScope(LOG_ONLY_POD, `crio-${LOG_ONLY_CTR}.scope`));
  assert.equal(resolver.stats.logDirListings, 2);

  const limited = resolverFor('rate-limited', { minRefreshIntervalMs: 3_600_000 });
  limited.resolver.resolve(crioScope(CRIO_POD, `crio-${CRIO_CTR}.scope`));
  symlinkSync(
    `/var/log/pods/payments_api-5f7c9d8b6-hx2lq_${LOG_ONLY_POD}/sidecar/0.log`,
    path.join(limited.dirs.logDir, `api-5f7c9d8b6-hx2lq_payments_sidecar-${CRIO_PROXY}.log`),
  );
  // a burst of unknown IDs (new link, no files at all) within the interval: still one listing
  for (const id of [CRIO_PROXY, NOWHERE_CTR, NOWHERE_CTR, CRIO_PROXY]) {
    const identity = limited.resolver.resolve(crioScope(LOG_ONLY_POD, `crio-${id}.scope`));
    assert.equal(identity?.containerId, id);
    assert.equal(identity?.container, id.slice(0, 12));
    // the pod is known from the other container's link target
    assert.equal(identity?.namespace, 'payments');
  }
  assert.equal(limited.resolver.stats.logDirListings, 1);
});

test('a container no source names gets its pod from the pod UID and its short ID as name; unknowns are retried only after the retry interval', () => {
  const unnamed: [string | undefined, readonly string[]][] = [];
  const { resolver, dirs } = resolverFor('unresolved', { onUnnamed: (c, tried) => unnamed.push([c.container, tried]) });
  const sandboxPath = crioScope(CRIO_POD, `crio-${NOWHERE_CTR}.scope`);
  for (let scrape = 0; scrape < 50; scrape++) {
    assert.deepEqual(resolver.resolve(sandboxPath), {
      podUid: CRIO_POD,
      qos: 'burstable',
      containerId: NOWHERE_CTR,
      runtime: 'crio',
      namespace: 'openshift-monitoring',
      pod: 'node-exporter-x7k2p',
      container: 'ffffffffffff',
    });
  }
  assert.deepEqual(resolver.stats, { logDirListings: 1, runtimeFileLookups: 2 });
  // reported once, with the files looked for (CRI-O's runroot and root)
  assert.deepEqual(unnamed, [
    ['ffffffffffff', [`${dirs.crioDir}/${NOWHERE_CTR}/userdata/config.json`, `${dirs.hostRoot}/var/lib/containers/storage/overlay-containers/${NOWHERE_CTR}/userdata/config.json`]],
  ]);

  const eager = resolverFor('unresolved-eager', { retryUnresolvedMs: 0, minRefreshIntervalMs: 0 });
  for (let scrape = 0; scrape < 3; scrape++) eager.resolver.resolve(sandboxPath);
  assert.equal(eager.resolver.stats.runtimeFileLookups, 6);
  // and a pod no file knows, asked every scrape: one listing, then the negative answer is cached
  const strangerPod = crioScope('9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a', '');
  const quiet = resolverFor('unknown-pod');
  for (let scrape = 0; scrape < 20; scrape++) assert.equal(quiet.resolver.resolve(strangerPod)?.pod, undefined);
  assert.equal(quiet.resolver.stats.logDirListings, 1);
});

test('missing, vanished and unreadable files: no names; only unreadable or corrupt ones are reported', () => {
  const { resolver, errors, dirs } = resolverFor('broken');
  // a bundle directory without config.json (the container is being removed): not an error
  mkdirSync(path.join(dirs.crioDir, NOWHERE_CTR, 'userdata'), { recursive: true });
  const vanished = resolver.resolve(crioScope(CRIO_POD, `crio-${NOWHERE_CTR}.scope`));
  assert.equal(vanished?.containerId, NOWHERE_CTR);
  assert.equal(vanished?.container, NOWHERE_CTR.slice(0, 12));
  assert.equal(errors.length, 0);

  // corrupt JSON (a half-written file): reported with the file name, names undefined
  mkdirSync(path.join(dirs.containerdDir, CRIO_PROXY));
  writeFileSync(path.join(dirs.containerdDir, CRIO_PROXY, 'config.json'), '{"annotations": {"io.kubernetes.cri.sandbox-name": "x"');
  const corrupt = resolver.resolve(containerdScope(CTRD_POD, `cri-containerd-${CRIO_PROXY}.scope`));
  assert.equal(corrupt?.pod, undefined);
  assert.equal(corrupt?.container, CRIO_PROXY.slice(0, 12));
  assert.equal(errors.length, 1);
  assert.equal(errors[0]?.code, 'PARSE_FAILED');
  assert.match(errors[0]?.message ?? '', new RegExp(`${CRIO_PROXY}/config\\.json`));

  // unreadable (a directory where the file should be): reported as a read failure
  const dockerId = 'abcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcdefabcd';
  mkdirSync(path.join(dirs.dockerDir, dockerId, 'config.v2.json'), { recursive: true });
  const unreadable = resolver.resolve(`/kubepods.slice/kubepods-pod${DOCKER_POD.replaceAll('-', '_')}.slice/docker-${dockerId}.scope`);
  assert.equal(unreadable?.container, dockerId.slice(0, 12));
  assert.equal(errors.length, 2);
  assert.equal(errors[1]?.code, 'READ_FAILED');
});

test('no log directory at all (e.g. not mounted): bundles still name containers, nothing is reported', () => {
  const { resolver, errors, dirs } = resolverFor('no-logdir');
  rmSync(dirs.logDir, { recursive: true });
  // CRI-O's conmon, seen before any process of its container (it starts first): the bundle of the
  // container it monitors names its pod
  assert.deepEqual(resolver.resolve(crioScope(CRIO_POD, `crio-conmon-${CRIO_CTR}.scope`)), {
    podUid: CRIO_POD,
    qos: 'burstable',
    containerId: undefined,
    runtime: 'crio',
    namespace: 'openshift-monitoring',
    pod: 'node-exporter-x7k2p',
    container: undefined,
  });
  assert.equal(resolver.stats.runtimeFileLookups, 1);
  const c = resolver.resolve(crioScope(CRIO_POD, `crio-${CRIO_CTR}.scope`));
  assert.deepEqual([c?.namespace, c?.pod, c?.container], ['openshift-monitoring', 'node-exporter-x7k2p', 'node-exporter']);
  assert.deepEqual(errors, []);
});

test('a plain file instead of a link still names the container; processes outside pods have no identity', () => {
  const { resolver, dirs } = resolverFor('plain-file');
  writeFileSync(path.join(dirs.logDir, `web-0_default_nginx-${CRIO_PROXY}.log`), '');
  const c = resolver.resolve(`/kubepods/pod${CTRD_POD}/${CRIO_PROXY}`);
  assert.deepEqual([c?.namespace, c?.pod, c?.container, c?.qos], ['default', 'web-0', 'nginx', 'guaranteed']);
  assert.equal(resolver.resolve('/system.slice/crio.service'), undefined);
  assert.equal(resolver.resolve(`/system.slice/crio-conmon-${CRIO_CTR}.scope`), undefined);
  assert.equal(resolver.resolve('/'), undefined);
});

test('default paths on a host without Kubernetes: identities without names, nothing reported', () => {
  const errors: ExporterError[] = [];
  const resolver = new ContainerNameResolver({ onError: (e) => errors.push(e) });
  const c = resolver.resolve(crioScope(CRIO_POD, `crio-${CRIO_CTR}.scope`));
  assert.equal(c?.containerId, CRIO_CTR);
  assert.equal(c?.namespace, undefined);
  assert.deepEqual(errors, []);
});

test('every place a runtime keeps its bundle: CRI-O root, podman, containerd v1 shim and k3s', () => {
  const { resolver, errors, dirs } = resolverFor('bundle-places');
  const place = (rel: string, id: string, src: string) => {
    const file = path.join(dirs.hostRoot, rel.replace('{id}', id));
    mkdirSync(path.dirname(file), { recursive: true });
    copyFileSync(fixture(src), file);
  };
  const ids = ['c1', 'c2', 'c3', 'c4'].map((p) => p.repeat(32));
  // CRI-O's copy in its root (the runroot one is gone, e.g. after a reboot before cleanup)
  place('var/lib/containers/storage/overlay-containers/{id}/userdata/config.json', ids[0] as string, 'crio-container-config.json');
  // podman (cgroup libpod-<id>) keeps its bundle in the root only
  place('var/lib/containers/storage/overlay-containers/{id}/userdata/config.json', ids[1] as string, 'crio-container-config.json');
  place('run/containerd/io.containerd.runtime.v1.linux/k8s.io/{id}/config.json', ids[2] as string, 'containerd-container-config.json');
  place('run/k3s/containerd/io.containerd.runtime.v2.task/k8s.io/{id}/config.json', ids[3] as string, 'containerd-container-config.json');
  const names = (p: string) => {
    const c = resolver.resolve(p);
    return [c?.runtime, c?.namespace, c?.pod, c?.container];
  };
  assert.deepEqual(names(crioScope(CRIO_POD, `crio-${ids[0]}.scope`)), ['crio', 'openshift-monitoring', 'node-exporter-x7k2p', 'node-exporter']);
  assert.deepEqual(names(`/kubepods/besteffort/pod${CRIO_POD}/libpod-${ids[1]}`), ['podman', 'openshift-monitoring', 'node-exporter-x7k2p', 'node-exporter']);
  assert.deepEqual(names(containerdScope(CTRD_POD, `cri-containerd-${ids[2]}.scope`)), ['containerd', 'shop', 'web-7d4b9c6f5d-q2x8z', 'web']);
  assert.deepEqual(names(`/kubepods/besteffort/pod${CTRD_POD}/${ids[3]}`), ['unknown', 'shop', 'web-7d4b9c6f5d-q2x8z', 'web']);
  assert.deepEqual(errors, []);
});
