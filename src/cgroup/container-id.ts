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
 * cgroupfs driver:
 *   /kubepods/burstable/pod<uid>/<id>          (containerd, docker)
 *   /kubepods/besteffort/pod<uid>/crio-<id>    (CRI-O)
 *   /kubepods/pod<uid>/<id>                    (guaranteed)
 *   /kubepods/besteffort/pod<uid>/libpod-<id>  (podman run --cgroup-parent=..., conmon in libpod-conmon-<id>
 *                                               with the systemd manager)
 *
 * Only the kubelet's own hierarchy counts: `kubepods.slice` or `kubepods` directly at the kubelet's
 * cgroup root (`/` unless the kubelet runs with --cgroup-root; a kind node's `/kubelet.slice` holds
 * `kubelet-kubepods.slice`, systemd's slice naming), then only QoS levels before the pod. Anyone
 * with a delegated cgroup (a user's `user@1000.service`, a container's scope) can create
 * kubepods-like names below it, so `/user.slice/.../kubepods-besteffort-pod<uid>.slice/crio-<id>.scope`
 * is no pod. Seen from inside a cgroup namespace (the exporter in a pod) the path starts with `/..`:
 * the ancestors climbed are then the exporter's own kubepods levels, so the levels after the `..`
 * must be kubepods levels too (a host or user cgroup shows as `/../../../../user.slice/...`).
 * Whatever follows the container cgroup is ignored (a container's own sub-cgroups, e.g. crun's
 * `.../crio-<id>.scope/container`): on a node running a nested cluster inside a pod, the outer pod
 * is the one this node's kubelet knows.
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
// (after the slice prefix of the kubelet's root)
const SYSTEMD_POD = /^kubepods(?:-(burstable|besteffort))?-pod([0-9a-f][0-9a-f_]*)\.slice$/;
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

/** Where the kubelet's kubepods hierarchy lives, prepared once for parseContainerCgroup. */
export interface KubeletCgroupRoot {
  /** as given, e.g. `/` or `/kubelet.slice` */
  readonly path: string;
  readonly segments: readonly string[];
  /** systemd names a slice's children after it: `kubelet-` under `/kubelet.slice`, '' at `/` */
  readonly slicePrefix: string;
  /** the names a kubepods or QoS level may have below this root (both cgroup drivers) */
  readonly levels: ReadonlySet<string>;
}

/** undefined when `root` is no absolute cgroup path (`/`, `/kubelet.slice`; no `.` or `..` levels) */
export function kubeletCgroupRoot(root: string): KubeletCgroupRoot | undefined {
  if (!root.startsWith('/')) return undefined;
  const segments = root.split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '.' || s === '..')) return undefined;
  const last = segments.at(-1);
  const slicePrefix = last?.endsWith('.slice') ? `${last.slice(0, -'.slice'.length)}-` : '';
  const levels = new Set(['kubepods', 'burstable', 'besteffort', ...['', '-burstable', '-besteffort'].map((q) => `${slicePrefix}kubepods${q}.slice`)]);
  return { path: root, segments, slicePrefix, levels };
}

/** the kubelet's default: its hierarchy at the top of the cgroup tree */
export const DEFAULT_KUBELET_CGROUP_ROOT = kubeletCgroupRoot('/') as KubeletCgroupRoot;

/** undefined when the path is not inside a Kubernetes pod cgroup of the kubelet's own hierarchy */
export function parseContainerCgroup(path: string, root: KubeletCgroupRoot = DEFAULT_KUBELET_CGROUP_ROOT): ContainerCgroup | undefined {
  const parts = path.split('/').filter((part) => part !== '');
  let i = 0;
  while (parts[i] === '..') i++;
  if (i === 0) {
    // absolute: the root's levels, then kubepods itself
    for (const segment of root.segments) if (parts[i++] !== segment) return undefined;
    const top = parts[i];
    if (top !== 'kubepods' && top !== `${root.slicePrefix}kubepods.slice`) return undefined;
  }
  for (; i < parts.length; i++) {
    const pod = podAt(parts, i, root.slicePrefix);
    if (pod) return { ...pod, ...containerOf(parts[i + 1]) };
    if (!root.levels.has(parts[i] as string)) return undefined;
  }
  return undefined;
}

function podAt(parts: readonly string[], i: number, slicePrefix: string): Pick<ContainerCgroup, 'podUid' | 'qos'> | undefined {
  const part = parts[i] as string;
  const systemd = part.startsWith(slicePrefix) ? SYSTEMD_POD.exec(part.slice(slicePrefix.length)) : null;
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
