import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { kubeletCgroupRoot, parseContainerCgroup, type ContainerCgroup, type KubeletCgroupRoot } from '../../../src/cgroup/container-id.js';

// Path shapes from real nodes (sources noted per case); UIDs and IDs replaced by these.
const ID = '18c5c007ff7f8fa8c3412987b15c1ccaea766bd6d6ed47af707eccad680eb2b9';
const ID2 = '4a4fafc89409d4faca9493ddb31507fc7dc7c2889fc7cc7c7370e3615984f1e8';
const UID = '869cf449-9254-42a9-a3f3-635768904276';
const UID_ = UID.replaceAll('-', '_');
const UID2 = '5d9716a5-454d-4c8d-ac72-987de734f9b3';
const UID2_ = UID2.replaceAll('-', '_');

const container = (podUid: string, qos: ContainerCgroup['qos'], runtime: ContainerCgroup['runtime'], containerId = ID): ContainerCgroup => ({
  podUid,
  qos,
  containerId,
  runtime,
});
const podLevel = (podUid: string, qos: ContainerCgroup['qos'], runtime: ContainerCgroup['runtime'] = 'unknown'): ContainerCgroup => ({
  podUid,
  qos,
  containerId: undefined,
  runtime,
});

const cases: [string, string, ContainerCgroup | undefined][] = [
  // systemd driver, CRI-O (OpenShift 4, cgroup v1 and v2)
  ['crio burstable', `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/crio-${ID}.scope`, container(UID, 'burstable', 'crio')],
  ['crio besteffort', `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/crio-${ID}.scope`, container(UID, 'besteffort', 'crio')],
  ['crio guaranteed', `/kubepods.slice/kubepods-pod${UID_}.slice/crio-${ID}.scope`, container(UID, 'guaranteed', 'crio')],
  ['crio conmon: pod-level', `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/crio-conmon-${ID}.scope`, { ...podLevel(UID, 'burstable', 'crio'), monitoredId: ID }],
  ['crun sub-cgroup', `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/crio-${ID}.scope/container`, container(UID, 'burstable', 'crio')],
  // systemd driver, containerd (cgroup v2)
  ['containerd besteffort', `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/cri-containerd-${ID}.scope`, container(UID, 'besteffort', 'containerd')],
  ['containerd guaranteed', `/kubepods.slice/kubepods-pod${UID_}.slice/cri-containerd-${ID}.scope`, container(UID, 'guaranteed', 'containerd')],
  // systemd driver, Docker (Kubernetes 1.23, dockershim)
  ['docker guaranteed', `/kubepods.slice/kubepods-pod${UID_}.slice/docker-${ID}.scope`, container(UID, 'guaranteed', 'docker')],
  ['docker burstable', `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/docker-${ID}.scope`, container(UID, 'burstable', 'docker')],
  // cgroupfs driver (GKE/k3s with containerd or docker: bare ID; CRI-O keeps its prefix)
  ['cgroupfs besteffort', `/kubepods/besteffort/pod${UID}/${ID}`, container(UID, 'besteffort', 'unknown')],
  ['cgroupfs burstable', `/kubepods/burstable/pod${UID}/${ID}`, container(UID, 'burstable', 'unknown')],
  ['cgroupfs guaranteed', `/kubepods/pod${UID}/${ID}`, container(UID, 'guaranteed', 'unknown')],
  ['cgroupfs crio', `/kubepods/burstable/pod${UID}/crio-${ID}`, container(UID, 'burstable', 'crio')],
  ['cgroupfs crio conmon', `/kubepods/burstable/pod${UID}/crio-conmon-${ID}`, { ...podLevel(UID, 'burstable', 'crio'), monitoredId: ID }],
  // podman run --cgroup-parent=<a kubepods pod cgroup>: libpod-<id>, its conmon in libpod-conmon-<id> (systemd manager)
  ['podman under a pod cgroup', `/kubepods/besteffort/pod${UID}/libpod-${ID}`, container(UID, 'besteffort', 'podman')],
  ['podman conmon under a pod slice', `/kubepods.slice/kubepods-pod${UID_}.slice/libpod-conmon-${ID}.scope`, { ...podLevel(UID, 'guaranteed', 'podman'), monitoredId: ID }],
  // pod-level processes: in the pod cgroup itself, or in a sub-cgroup that is no container
  ['systemd pod slice', `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice`, podLevel(UID, 'burstable')],
  ['systemd guaranteed pod slice', `/kubepods.slice/kubepods-pod${UID_}.slice`, podLevel(UID, 'guaranteed')],
  ['cgroupfs pod', `/kubepods/besteffort/pod${UID}`, podLevel(UID, 'besteffort')],
  ['unrecognised sub-cgroup of the pod', `/kubepods.slice/kubepods-pod${UID_}.slice/something`, podLevel(UID, 'guaranteed')],
  // static pods: the UID is a 32-digit hash
  [
    'static pod',
    `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod4e1f8b1c2d5c0e1a7f7a4c8b9d3e2f10.slice/crio-${ID}.scope`,
    container('4e1f8b1c2d5c0e1a7f7a4c8b9d3e2f10', 'burstable', 'crio'),
  ],
  // seen from inside a cgroup namespace: the path starts with /..
  ['cgroupns-relative systemd', `/../../kubepods-besteffort-pod${UID_}.slice/crio-${ID}.scope`, container(UID, 'besteffort', 'crio')],
  ['cgroupns-relative cgroupfs', `/../../../burstable/pod${UID}/${ID}`, container(UID, 'burstable', 'unknown')],
  ['cgroupns-relative, up to kubepods', `/../../../kubepods.slice/kubepods-pod${UID_}.slice/crio-${ID}.scope`, container(UID, 'guaranteed', 'crio')],
  // a cluster nested in a pod: the outer pod is the one this node knows
  [
    'nested cluster',
    `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope/kubelet.slice/` +
      `kubelet-kubepods.slice/kubelet-kubepods-pod${UID2_}.slice/cri-containerd-${ID2}.scope`,
    container(UID, 'burstable', 'containerd'),
  ],
  // not the kubelet's own hierarchy: anyone with a delegated cgroup can create these names (issue 13)
  ['spoofed in a delegated user cgroup', `/user.slice/user-1000.slice/user@1000.service/kubepods-besteffort-pod${UID_}.slice/crio-${ID}.scope`, undefined],
  [
    'spoofed full kubepods chain in a delegated user cgroup',
    `/user.slice/user-1000.slice/user@1000.service/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/crio-${ID}.scope`,
    undefined,
  ],
  ['spoofed cgroupfs chain in a container scope', `/system.slice/docker-${ID2}.scope/kubepods/besteffort/pod${UID}/${ID}`, undefined],
  ['spoofed, seen from a cgroup namespace', `/../../../../user.slice/user-1000.slice/user@1000.service/kubepods-besteffort-pod${UID_}.slice/crio-${ID}.scope`, undefined],
  ['non-kubepods level before the pod', `/kubepods.slice/user@1000.service/kubepods-besteffort-pod${UID_}.slice/crio-${ID}.scope`, undefined],
  // a kubelet --cgroup-root other than / (kind) needs -kubelet.cgroup-root (below); runc's literal "slice:prefix:name" is not at the root
  [
    'kind node (--cgroup-root=/kubelet) with the default root',
    `/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod${UID_}.slice/cri-containerd-${ID}.scope`,
    undefined,
  ],
  ['cgroupfs below a kubelet cgroup root, with the default root', `/kubelet/kubepods/besteffort/pod${UID}/${ID}`, undefined],
  ['literal slice:prefix:name under containerd.service', `/system.slice/containerd.service/kubepods-besteffort-pod${UID_}.slice:cri-containerd:${ID}`, undefined],
  // not in a pod
  ['root', '/', undefined],
  ['crio service', '/system.slice/crio.service', undefined],
  ['kubelet service', '/system.slice/kubelet.service', undefined],
  ['conmon in system.slice', `/system.slice/crio-conmon-${ID}.scope`, undefined],
  ['plain docker container', `/system.slice/docker-${ID}.scope`, undefined],
  ['podman container', `/machine.slice/libpod-${ID}.scope`, undefined],
  ['kubepods slice', '/kubepods.slice', undefined],
  ['QoS slice', '/kubepods.slice/kubepods-burstable.slice', undefined],
  ['cgroupfs QoS', '/kubepods/burstable', undefined],
  ['pod-like name outside kubepods', `/pod${UID}/${ID}`, undefined],
  ['user session', '/user.slice/user-1000.slice/session-3.scope', undefined],
  ['empty', '', undefined],
];

for (const [name, path, want] of cases) {
  test(`parseContainerCgroup: ${name}`, () => {
    assert.deepEqual(parseContainerCgroup(path), want, path);
  });
}

const root = (p: string): KubeletCgroupRoot => kubeletCgroupRoot(p) as KubeletCgroupRoot;
const KIND_NODE = `/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod${UID_}.slice/cri-containerd-${ID}.scope`;
// -kubelet.cgroup-root: [case, root, path, expected]
const rootCases: [string, string, string, ContainerCgroup | undefined][] = [
  // kind node: kubelet --cgroup-root=/kubelet with the systemd driver, seen inside the node (containerd/nri#227) and from its host
  ['kind node', '/kubelet.slice', KIND_NODE, container(UID, 'besteffort', 'containerd')],
  ['kind node, guaranteed', '/kubelet.slice', `/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod${UID_}.slice/cri-containerd-${ID}.scope`, container(UID, 'guaranteed', 'containerd')],
  ['kind node from its host', `/system.slice/docker-${ID2}.scope/kubelet.slice`, `/system.slice/docker-${ID2}.scope${KIND_NODE}`, container(UID, 'besteffort', 'containerd')],
  ['trailing slash', '/kubelet.slice/', KIND_NODE, container(UID, 'besteffort', 'containerd')],
  ['cgroupfs below /kubelet', '/kubelet', `/kubelet/kubepods/besteffort/pod${UID}/${ID}`, container(UID, 'besteffort', 'unknown')],
  ['cgroupfs guaranteed below /kubelet', '/kubelet', `/kubelet/kubepods/pod${UID}/${ID}`, container(UID, 'guaranteed', 'unknown')],
  // a test's sandbox parent (not a slice: systemd names under it are unprefixed)
  ['systemd below a sandbox parent', '/pgx-test-1', `/pgx-test-1/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/crio-${ID}.scope`, container(UID, 'burstable', 'crio')],
  // the root's own kubepods only
  ['kind root, a root-level kubepods', '/kubelet.slice', `/kubepods.slice/kubepods-pod${UID_}.slice/crio-${ID}.scope`, undefined],
  ['kind root, unprefixed names below it', '/kubelet.slice', `/kubelet.slice/kubepods.slice/kubepods-pod${UID_}.slice/crio-${ID}.scope`, undefined],
  ['kind root, prefixed pod without kubepods level', '/kubelet.slice', `/kubelet.slice/kubelet-kubepods-pod${UID_}.slice/crio-${ID}.scope`, undefined],
  ['sandbox root, the same chain below a sibling', '/pgx-test-1', `/pgx-test-2/kubepods/besteffort/pod${UID}/${ID}`, undefined],
  ['sandbox root, a name that only starts like it', '/pgx-test-1', `/pgx-test-10/kubepods/besteffort/pod${UID}/${ID}`, undefined],
  ['sandbox root, the chain lower down', '/pgx-test-1', `/pgx-test-1/user@1000.service/kubepods/besteffort/pod${UID}/${ID}`, undefined],
  ['the root itself', '/kubelet', '/kubelet', undefined],
  // from inside a cgroup namespace the levels after /.. carry the root's slice prefix
  ['kind root, cgroupns-relative', '/kubelet.slice', `/../../kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod${UID_}.slice/cri-containerd-${ID}.scope`, container(UID, 'besteffort', 'containerd')],
  ['kind root, cgroupns-relative, unprefixed', '/kubelet.slice', `/../../kubepods-besteffort.slice/kubepods-besteffort-pod${UID_}.slice/cri-containerd-${ID}.scope`, undefined],
];

for (const [name, rootPath, path, want] of rootCases) {
  test(`parseContainerCgroup with root ${rootPath}: ${name}`, () => {
    assert.deepEqual(parseContainerCgroup(path, root(rootPath)), want, path);
  });
}

test('kubeletCgroupRoot: absolute paths without . or .. levels only', () => {
  assert.deepEqual(root('/'), { path: '/', segments: [], slicePrefix: '', levels: root('/').levels });
  assert.deepEqual(root('/a.slice/a-b.slice').slicePrefix, 'a-b-');
  assert.deepEqual([...root('/kubelet.slice').levels].sort(), [
    'besteffort', 'burstable', 'kubelet-kubepods-besteffort.slice', 'kubelet-kubepods-burstable.slice', 'kubelet-kubepods.slice', 'kubepods',
  ]);
  for (const bad of ['', 'kubelet.slice', '/a/../b', '/./a', '/..']) assert.equal(kubeletCgroupRoot(bad), undefined, bad);
});

test('any cgroup-namespace prefix, driver, QoS, runtime and suffix: the pod and container are found', () => {
  const hex = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });
  const uid = fc.tuple(hex(8), hex(4), hex(4), hex(4), hex(12)).map((p) => p.join('-'));
  const segment = fc.stringMatching(/^[a-z][a-z0-9.@-]{0,15}$/).filter((s) => !s.includes('kubepods') && !/^pod/.test(s));
  fc.assert(
    fc.property(
      fc.nat(4),
      fc.constantFrom('systemd', 'cgroupfs'),
      fc.constantFrom('guaranteed', 'burstable', 'besteffort'),
      fc.constantFrom('crio', 'containerd', 'docker', 'pod-level'),
      uid,
      hex(64),
      fc.array(segment, { maxLength: 2 }),
      (ups, driver, qos, runtime, podUid, id, suffix) => {
        const parts: string[] = Array.from({ length: ups }, () => '..');
        if (driver === 'systemd') {
          parts.push('kubepods.slice');
          const q = qos === 'guaranteed' ? '' : `-${qos}`;
          if (q) parts.push(`kubepods${q}.slice`);
          parts.push(`kubepods${q}-pod${podUid.replaceAll('-', '_')}.slice`);
        } else {
          parts.push('kubepods');
          if (qos !== 'guaranteed') parts.push(qos);
          parts.push(`pod${podUid}`);
        }
        const prefixOf = { crio: 'crio-', containerd: 'cri-containerd-', docker: 'docker-' } as const;
        if (runtime !== 'pod-level') {
          parts.push(driver === 'systemd' ? `${prefixOf[runtime]}${id}.scope` : runtime === 'crio' ? `crio-${id}` : id);
          parts.push(...suffix);
        }
        const got = parseContainerCgroup(`/${parts.join('/')}`);
        const wantRuntime = runtime === 'pod-level' ? 'unknown' : driver === 'cgroupfs' && runtime !== 'crio' ? 'unknown' : runtime;
        assert.deepEqual(got, {
          podUid,
          qos,
          containerId: runtime === 'pod-level' ? undefined : id,
          runtime: wantRuntime,
        });
      },
    ),
  );
});

test('a pod chain below any cgroup other than the kubelet root is no pod', () => {
  const segment = fc.stringMatching(/^[a-z][a-z0-9.@-]{0,15}$/).filter((s) => !s.startsWith('kubepods') && s !== 'burstable' && s !== 'besteffort');
  fc.assert(
    fc.property(fc.nat(4), fc.array(segment, { minLength: 1, maxLength: 3 }), fc.constantFrom('systemd', 'cgroupfs'), (ups, prefix, driver) => {
      const chain =
        driver === 'systemd'
          ? ['kubepods.slice', 'kubepods-burstable.slice', `kubepods-burstable-pod${UID_}.slice`, `crio-${ID}.scope`]
          : ['kubepods', 'burstable', `pod${UID}`, ID];
      const path = `/${[...Array.from({ length: ups }, () => '..'), ...prefix, ...chain].join('/')}`;
      assert.equal(parseContainerCgroup(path), undefined, path);
    }),
  );
});

test('with any root: a pod chain directly at it is found, one level lower or beside it is no pod', () => {
  const segment = fc.stringMatching(/^[a-z][a-z0-9@-]{0,15}(?:\.slice)?$/).filter((s) => !s.includes('kubepods') && s !== 'burstable' && s !== 'besteffort');
  fc.assert(
    fc.property(fc.array(segment, { minLength: 1, maxLength: 3 }), segment, fc.constantFrom('systemd', 'cgroupfs'), (rootSegs, extra, driver) => {
      const r = root(`/${rootSegs.join('/')}`);
      const p = r.slicePrefix;
      const chain = driver === 'systemd'
        ? [`${p}kubepods.slice`, `${p}kubepods-burstable.slice`, `${p}kubepods-burstable-pod${UID_}.slice`, `crio-${ID}.scope`]
        : ['kubepods', 'burstable', `pod${UID}`, ID];
      const want = container(UID, 'burstable', driver === 'systemd' ? 'crio' : 'unknown');
      assert.deepEqual(parseContainerCgroup(`/${[...rootSegs, ...chain].join('/')}`, r), want);
      assert.equal(parseContainerCgroup(`/${[...rootSegs, extra, ...chain].join('/')}`, r), undefined);
      assert.equal(parseContainerCgroup(`/${[...rootSegs.slice(0, -1), `${rootSegs.at(-1)}x`, ...chain].join('/')}`, r), undefined);
    }),
  );
});
