import type { ContainerIdentity, ContainerRuntime, QosClass } from './types.js';

/*
 * Kubernetes pod/container identity from a cgroup path (the v2 `0::` line of /proc/<pid>/cgroup;
 * v1 paths have the same shape). The kubelet creates one cgroup per pod under `kubepods`, by QoS
 * class (guaranteed pods sit directly under kubepods), and the runtime one per container below it:
 *
 * systemd driver (pod UID with '_' for '-', as '-' separates slice levels):
 *   /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice/crio-<id>.scope
 *   /kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod<uid>.slice/cri-containerd-<id>.scope
 *   /kubepods.slice/kubepods-pod<uid>.slice/docker-<id>.scope                      (guaranteed)
 *   /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice/crio-conmon-<id>.scope
 *   /kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-besteffort.slice/
 *       kubelet-kubepods-besteffort-pod<uid>.slice/cri-containerd-<id>.scope    (kind: --cgroup-root=kubelet)
 *   /system.slice/containerd.service/kubepods-besteffort-pod<uid>.slice:cri-containerd:<id>
 *       (runc's "slice:prefix:name" cgroupsPath taken literally, seen on v1 hosts)
 * cgroupfs driver:
 *   /kubepods/burstable/pod<uid>/<id>          (containerd, docker)
 *   /kubepods/besteffort/pod<uid>/crio-<id>    (CRI-O)
 *   /kubepods/pod<uid>/<id>                    (guaranteed)
 *   /kubepods/besteffort/pod<uid>/libpod-<id>  (podman run --cgroup-parent=..., conmon in libpod-conmon-<id>
 *                                               with the systemd manager)
 *
 * The first pod cgroup on the path wins, whatever precedes it (a kubelet inside /system.slice, a
 * kind node's docker scope, a cgroup namespace's `/..` prefix) and whatever follows the container
 * cgroup (a container's own sub-cgroups, e.g. crun's `.../crio-<id>.scope/container`): on a node
 * running a nested cluster inside a pod, the outer pod is the one this node's kubelet knows.
 *
 * Pod-level processes have no container ID: processes in the pod cgroup itself, in a sub-cgroup
 * we do not recognise, and CRI-O's conmon (`crio-conmon-<id>.scope`, with CRI-O's default
 * conmon_cgroup = "pod"). conmon monitors one container but is not part of it: its CPU and memory
 * are charged to the pod's cgroup, not the container's, so it is reported like the pod's other
 * runtime overhead (pod labels, no container label). A conmon in /system.slice/crio-conmon-<id>.scope
 * (conmon_cgroup = "system.slice") is outside kubepods and so, like crio itself, a host process.
 */

/**
 * What the cgroup path tells; names come from ContainerNameResolver. A conmon's scope also names
 * the container it monitors (`monitoredId`): its bundle names the conmon's pod, even before any
 * process of the container itself was seen (conmon starts first).
 */
export type ContainerCgroup = Pick<ContainerIdentity, 'podUid' | 'qos' | 'containerId' | 'runtime'> & { monitoredId?: string };

// group 1: QoS (absent for guaranteed), group 2: UID in systemd escaping ('_' for '-'; static pods: 32 hex)
const SYSTEMD_POD = /^(?:.+-)?kubepods(?:-(burstable|besteffort))?-pod([0-9a-f][0-9a-f_]*)\.slice$/;
const CGROUPFS_POD = /^pod([0-9a-f][0-9a-f-]*)$/;
// group 1: runtime prefix (crio, cri-containerd, docker, crio-conmon; none with cgroupfs), group 2: ID
const CONTAINER = /^(?:([a-z][a-z0-9-]*)-)?([0-9a-f]{64})(?:\.scope)?$/;

const RUNTIME_BY_PREFIX: ReadonlyMap<string, ContainerRuntime> = new Map([
  ['crio', 'crio'],
  ['cri-containerd', 'containerd'],
  ['docker', 'docker'],
  ['libpod', 'podman'],
]);
const CONMON_PREFIXES: ReadonlyMap<string, ContainerRuntime> = new Map([
  ['crio-conmon', 'crio'],
  ['libpod-conmon', 'podman'],
]);

/** undefined when the path is not inside a Kubernetes pod cgroup */
export function parseContainerCgroup(path: string): ContainerCgroup | undefined {
  const parts = components(path);
  for (let i = 0; i < parts.length; i++) {
    const pod = podAt(parts, i);
    if (pod) return { ...pod, ...containerOf(parts[i + 1]) };
  }
  return undefined;
}

function components(path: string): string[] {
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '') continue;
    // "slice:prefix:name" -> the pod slice, then "prefix-name" like the scope systemd would create
    const colon = part.split(':');
    if (colon.length === 3 && colon.every((s) => s !== '')) out.push(colon[0] as string, `${colon[1]}-${colon[2]}`);
    else out.push(part);
  }
  return out;
}

function podAt(parts: readonly string[], i: number): Pick<ContainerCgroup, 'podUid' | 'qos'> | undefined {
  const part = parts[i] as string;
  const systemd = SYSTEMD_POD.exec(part);
  if (systemd) {
    return { podUid: (systemd[2] as string).replaceAll('_', '-'), qos: (systemd[1] as QosClass | undefined) ?? 'guaranteed' };
  }
  const cgroupfs = CGROUPFS_POD.exec(part);
  if (!cgroupfs) return undefined;
  const parent = parts[i - 1];
  // a bare "pod<uid>" only counts under kubepods (or its QoS level); with a `/..` prefix from a
  // cgroup namespace the parent of a guaranteed pod is not visible, so it is not recognised
  const qos: QosClass | undefined =
    parent === 'burstable' || parent === 'besteffort' ? parent : parent === 'kubepods' ? 'guaranteed' : undefined;
  return qos && { podUid: cgroupfs[1] as string, qos };
}

function containerOf(part: string | undefined): Pick<ContainerCgroup, 'containerId' | 'runtime' | 'monitoredId'> {
  const m = part === undefined ? null : CONTAINER.exec(part);
  if (!m) return { containerId: undefined, runtime: 'unknown' };
  const prefix = m[1];
  const conmon = prefix === undefined ? undefined : CONMON_PREFIXES.get(prefix);
  if (conmon) return { containerId: undefined, runtime: conmon, monitoredId: m[2] as string };
  return { containerId: m[2] as string, runtime: (prefix !== undefined && RUNTIME_BY_PREFIX.get(prefix)) || 'unknown' };
}
