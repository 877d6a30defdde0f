import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { parseContainerCgroup, type ContainerCgroup } from '../../../src/cgroup/container-id.js';

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
  // kind node (kubelet --cgroup-root=/kubelet), as seen inside the node (containerd/nri#227) and from the host
  [
    'kind, inside the node',
    `/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/kubelet-kubepods-besteffort-pod${UID_}.slice/cri-containerd-${ID}.scope`,
    container(UID, 'besteffort', 'containerd'),
  ],
  [
    'kind, from the host',
    `/system.slice/docker-${ID2}.scope/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod${UID_}.slice/cri-containerd-${ID}.scope`,
    container(UID, 'guaranteed', 'containerd'),
  ],
  // runc's systemd cgroupsPath "slice:prefix:name" taken literally on v1 (opentelemetry-java#4507)
  [
    'literal slice:prefix:name under containerd.service',
    `/system.slice/containerd.service/kubepods-besteffort-pod${UID_}.slice:cri-containerd:${ID}`,
    container(UID, 'besteffort', 'containerd'),
  ],
  ['literal slice:prefix:name at the root', `/kubepods-burstable-pod${UID_}.slice:crio:${ID}`, container(UID, 'burstable', 'crio')],
  // cgroupfs driver (GKE/k3s with containerd or docker: bare ID; CRI-O keeps its prefix)
  ['cgroupfs besteffort', `/kubepods/besteffort/pod${UID}/${ID}`, container(UID, 'besteffort', 'unknown')],
  ['cgroupfs burstable', `/kubepods/burstable/pod${UID}/${ID}`, container(UID, 'burstable', 'unknown')],
  ['cgroupfs guaranteed', `/kubepods/pod${UID}/${ID}`, container(UID, 'guaranteed', 'unknown')],
  ['cgroupfs crio', `/kubepods/burstable/pod${UID}/crio-${ID}`, container(UID, 'burstable', 'crio')],
  ['cgroupfs crio conmon', `/kubepods/burstable/pod${UID}/crio-conmon-${ID}`, { ...podLevel(UID, 'burstable', 'crio'), monitoredId: ID }],
  // podman run --cgroup-parent=<a kubepods pod cgroup>: libpod-<id>, its conmon in libpod-conmon-<id> (systemd manager)
  ['podman under a pod cgroup', `/kubepods/besteffort/pod${UID}/libpod-${ID}`, container(UID, 'besteffort', 'podman')],
  ['podman conmon under a pod slice', `/kubepods.slice/kubepods-pod${UID_}.slice/libpod-conmon-${ID}.scope`, { ...podLevel(UID, 'guaranteed', 'podman'), monitoredId: ID }],
  ['cgroupfs under a kubelet cgroup root', `/kubelet/kubepods/besteffort/pod${UID}/${ID}`, container(UID, 'besteffort', 'unknown')],
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
  // a cluster nested in a pod: the outer pod is the one this node knows
  [
    'nested cluster',
    `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${UID_}.slice/cri-containerd-${ID}.scope/kubelet.slice/` +
      `kubelet-kubepods.slice/kubelet-kubepods-pod${UID2_}.slice/cri-containerd-${ID2}.scope`,
    container(UID, 'burstable', 'containerd'),
  ],
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

test('any prefix, driver, QoS, runtime and suffix: the pod and container are found', () => {
  const hex = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });
  const uid = fc.tuple(hex(8), hex(4), hex(4), hex(4), hex(12)).map((p) => p.join('-'));
  const segment = fc.stringMatching(/^[a-z][a-z0-9.@-]{0,15}$/).filter((s) => !s.includes('kubepods') && !/^pod/.test(s));
  fc.assert(
    fc.property(
      fc.array(segment, { maxLength: 3 }),
      fc.constantFrom('systemd', 'cgroupfs'),
      fc.constantFrom('guaranteed', 'burstable', 'besteffort'),
      fc.constantFrom('crio', 'containerd', 'docker', 'pod-level'),
      uid,
      hex(64),
      fc.array(segment, { maxLength: 2 }),
      (prefix, driver, qos, runtime, podUid, id, suffix) => {
        const parts = [...prefix];
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
