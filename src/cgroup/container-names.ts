import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { ExporterError, ParseError, ProcReadError, errnoOf } from '../errors.js';
import { DEFAULT_KUBELET_CGROUP_ROOT, parseContainerCgroup, type ContainerCgroup, type KubeletCgroupRoot } from './container-id.js';
import type { ContainerIdentity, ContainerRuntime } from './types.js';

/*
 * Kubernetes names (namespace, pod, container) of a container ID, from files the node already has,
 * without any API call. Sources, tried in this order:
 *
 * 1. The kubelet's log links, runtime-agnostic (pod names, namespaces and container names are DNS
 *    names, so they contain no '_'):
 *      /var/log/containers/<pod>_<namespace>_<container>-<container id>.log
 *        -> /var/log/pods/<namespace>_<pod>_<pod uid>/<container>/<restart>.log
 *    The link target (read with readlink, never followed: inside a DaemonSet it points to the
 *    host's /var/log) carries the pod UID.
 * 2. The runtime's OCI bundle config.json, `annotations` (paths below: BUNDLE_FILES):
 *      CRI-O       /run/containers/storage/overlay-containers/<id>/userdata/config.json (runroot: the
 *                  bundle runc runs) and the same under /var/lib/containers/storage (root, a copy)
 *                  io.kubernetes.pod.name, io.kubernetes.pod.namespace, io.kubernetes.pod.uid,
 *                  io.kubernetes.container.name ("POD" for the sandbox), io.kubernetes.cri-o.ContainerType
 *      podman      /var/lib/containers/storage/overlay-containers/<id>/userdata/config.json (its
 *                  bundle; the runroot copy holds no config.json), annotations as given to --annotation
 *      containerd  /run/containerd/io.containerd.runtime.v2.task/k8s.io/<id>/config.json (v1 shim:
 *                  io.containerd.runtime.v1.linux; k3s: /run/k3s/containerd/...)
 *                  io.kubernetes.cri.sandbox-name, io.kubernetes.cri.sandbox-namespace,
 *                  io.kubernetes.cri.sandbox-uid, io.kubernetes.cri.container-name (absent for the
 *                  sandbox), io.kubernetes.cri.container-type = sandbox|container
 * 3. Docker (dockershim, cri-dockerd): /var/lib/docker/containers/<id>/config.v2.json, `Config.Labels`:
 *      io.kubernetes.pod.name, io.kubernetes.pod.namespace, io.kubernetes.pod.uid,
 *      io.kubernetes.container.name ("POD" for the sandbox), io.kubernetes.docker.type = podsandbox|container
 * A container no source names is named by its short ID (the first 12 hex digits, as `crictl ps`,
 * `docker ps` and `podman ps` show it), so it still gets a group of its own, and reported once.
 * Sandbox (pause) containers have no log link; they are named "POD", the kubelet's name for them.
 */

export interface ContainerNames {
  namespace: string | undefined;
  pod: string | undefined;
  container: string | undefined;
  /** when the source records it */
  podUid: string | undefined;
}

export interface ContainerLogName {
  pod: string;
  namespace: string;
  container: string;
  containerId: string;
}

const LOG_NAME = /^([^_/]+)_([^_/]+)_([^_/]+)-([0-9a-f]{64})\.log$/;

/** `<pod>_<namespace>_<container>-<id>.log`; undefined for other names */
export function parseContainerLogName(fileName: string): ContainerLogName | undefined {
  const m = LOG_NAME.exec(fileName);
  return m ? { pod: m[1] as string, namespace: m[2] as string, container: m[3] as string, containerId: m[4] as string } : undefined;
}

const POD_LOG_DIR = /(?:^|\/)([^_/]+)_([^_/]+)_([0-9a-f][0-9a-f-]*)\/[^/]+\/[^/]+$/;

/** pod UID (and names) from a log link target `.../<namespace>_<pod>_<uid>/<container>/<n>.log` */
export function parsePodLogTarget(target: string): { namespace: string; pod: string; podUid: string } | undefined {
  const m = POD_LOG_DIR.exec(target);
  return m ? { namespace: m[1] as string, pod: m[2] as string, podUid: m[3] as string } : undefined;
}

type StringMap = Readonly<Record<string, unknown>>;

function str(map: StringMap, ...keys: string[]): string | undefined {
  for (const key of keys) {
    const v = map[key];
    if (typeof v === 'string' && v !== '') return v;
  }
  return undefined;
}

/** Names from annotations/labels of any of the three runtimes; all undefined when none is there. */
export function namesFromKubernetesKeys(map: StringMap): ContainerNames {
  const sandbox =
    str(map, 'io.kubernetes.cri-o.ContainerType', 'io.kubernetes.cri.container-type') === 'sandbox' ||
    str(map, 'io.kubernetes.docker.type') === 'podsandbox';
  const namespace = str(map, 'io.kubernetes.pod.namespace', 'io.kubernetes.cri.sandbox-namespace');
  const pod = str(map, 'io.kubernetes.pod.name', 'io.kubernetes.cri.sandbox-name');
  return {
    namespace,
    pod,
    container: str(map, 'io.kubernetes.container.name', 'io.kubernetes.cri.container-name') ?? (sandbox && pod ? 'POD' : undefined),
    podUid: str(map, 'io.kubernetes.pod.uid', 'io.kubernetes.cri.sandbox-uid'),
  };
}

function parseJsonObject(text: string, file: string): StringMap {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ParseError(file, `invalid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!isObject(value)) throw new ParseError(file, 'expected a JSON object at the top level');
  return value;
}

function isObject(v: unknown): v is StringMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** OCI runtime bundle config.json (CRI-O, containerd): names from `annotations` */
export function parseOciConfigNames(text: string, file: string): ContainerNames {
  const annotations = parseJsonObject(text, file)['annotations'];
  return namesFromKubernetesKeys(isObject(annotations) ? annotations : {});
}

/** Docker config.v2.json: names from `Config.Labels` */
export function parseDockerConfigNames(text: string, file: string): ContainerNames {
  const config = parseJsonObject(text, file)['Config'];
  const labels = isObject(config) ? config['Labels'] : undefined;
  return namesFromKubernetesKeys(isObject(labels) ? labels : {});
}

export interface ContainerNameResolverOptions {
  /** the host's root: `/`, or where it is mounted in a DaemonSet (`/host`); every path below is under it */
  hostRoot?: string;
  /** where the kubelet's kubepods hierarchy lives; only pods in it are containers (default: at `/`) */
  kubeletCgroupRoot?: KubeletCgroupRoot;
  /** least time between two listings of the log directory; default 1000 ms */
  minRefreshIntervalMs?: number;
  /** a container ID or pod UID no source knew is looked up again after this long at the earliest; default 30 s */
  retryUnresolvedMs?: number;
  /** cached names not asked for this long are dropped; default 10 min */
  cacheTtlMs?: number;
  /** a runtime file that exists but cannot be read or parsed (a missing one is normal, not reported) */
  onError?: (err: ExporterError) => void;
  /** once per container ID no source names: it is named by its short ID; `tried` lists the files looked for */
  onUnnamed?: (identity: ContainerIdentity, tried: readonly string[]) => void;
}

/** kubelet container log links, relative to the host root */
export const CONTAINER_LOG_DIR = 'var/log/containers';

type BundleFormat = 'oci' | 'docker';

/**
 * Where each runtime keeps a container's OCI bundle config.json (or Docker's config.v2.json),
 * relative to the host root, `{id}` standing for the full container ID; tried in this order.
 */
export const BUNDLE_FILES: Readonly<Record<Exclude<ContainerRuntime, 'unknown'>, readonly (readonly [string, BundleFormat])[]>> = {
  crio: [
    ['run/containers/storage/overlay-containers/{id}/userdata/config.json', 'oci'],
    ['var/lib/containers/storage/overlay-containers/{id}/userdata/config.json', 'oci'],
  ],
  podman: [['var/lib/containers/storage/overlay-containers/{id}/userdata/config.json', 'oci']],
  containerd: [
    ['run/containerd/io.containerd.runtime.v2.task/k8s.io/{id}/config.json', 'oci'],
    ['run/containerd/io.containerd.runtime.v1.linux/k8s.io/{id}/config.json', 'oci'],
    ['run/k3s/containerd/io.containerd.runtime.v2.task/k8s.io/{id}/config.json', 'oci'],
  ],
  docker: [['var/lib/docker/containers/{id}/config.v2.json', 'docker']],
};

/** the length of the short container ID the runtimes' CLIs print */
export const SHORT_ID_LENGTH = 12;

interface CachedNames {
  names: ContainerNames & { container: string };
  /** a source named the container (else its name is the short ID, looked up again after retryMs) */
  named: boolean;
  checkedAt: number;
  usedAt: number;
}

interface PodNames {
  namespace: string;
  pod: string;
}

interface CachedPod {
  names: PodNames | undefined;
  checkedAt: number;
  usedAt: number;
}

interface LogEntry {
  names: ContainerNames;
  /** link file name, to reuse the readlink of an unchanged entry */
  fileName: string;
}

const PARSERS: Readonly<Record<BundleFormat, (text: string, file: string) => ContainerNames>> = {
  oci: parseOciConfigNames,
  docker: parseDockerConfigNames,
};

interface RuntimeFile {
  /** absolute path template, `{id}` for the container ID */
  template: string;
  parse: (text: string, file: string) => ContainerNames;
}

const NOT_THERE = new Set(['ENOENT', 'ENOTDIR']);

/**
 * Container ID -> names, cached per ID. The log directory is listed only when an ID (or a pod UID)
 * not yet known shows up, and at most once per minRefreshIntervalMs, so a cycle that meets many new
 * processes costs one listing, and a cycle that meets none costs nothing. What no source knows is
 * looked up again only after retryUnresolvedMs, so callers may ask every scrape (the PSI collector
 * does). A container without names of its own still gets its pod's namespace and name when another
 * container of the pod is known. Synchronous, because the process attributes that ask for it are.
 */
export class ContainerNameResolver {
  /** how often the resolver touched the filesystem (for self-metrics and tests) */
  readonly stats = { logDirListings: 0, runtimeFileLookups: 0 };

  private readonly logDir: string;
  private readonly kubeletRoot: KubeletCgroupRoot;
  /** per runtime the files to try; 'unknown' (cgroupfs paths do not name the runtime): all of them */
  private readonly runtimeFiles: ReadonlyMap<ContainerRuntime, readonly RuntimeFile[]>;
  private readonly minRefreshMs: number;
  private readonly retryMs: number;
  private readonly ttlMs: number;
  private readonly onError: (err: ExporterError) => void;
  private readonly onUnnamed: (identity: ContainerIdentity, tried: readonly string[]) => void;

  private readonly containers = new Map<string, CachedNames>();
  private readonly pods = new Map<string, CachedPod>();
  private logIndex = new Map<string, LogEntry>();
  private listedAt = -Infinity;
  private prunedAt: number;

  constructor(options: ContainerNameResolverOptions = {}) {
    const root = options.hostRoot ?? '/';
    this.logDir = path.join(root, CONTAINER_LOG_DIR);
    this.kubeletRoot = options.kubeletCgroupRoot ?? DEFAULT_KUBELET_CGROUP_ROOT;
    this.minRefreshMs = options.minRefreshIntervalMs ?? 1000;
    this.retryMs = options.retryUnresolvedMs ?? 30_000;
    this.ttlMs = options.cacheTtlMs ?? 10 * 60_000;
    this.onError = options.onError ?? (() => {});
    this.onUnnamed = options.onUnnamed ?? (() => {});
    this.prunedAt = performance.now();
    const files = new Map<ContainerRuntime, RuntimeFile[]>();
    const all = new Map<string, RuntimeFile>();
    for (const [runtime, list] of Object.entries(BUNDLE_FILES) as [ContainerRuntime, (typeof BUNDLE_FILES)['crio']][]) {
      const own = list.map(([rel, format]) => ({ template: path.join(root, rel), parse: PARSERS[format] }));
      files.set(runtime, own);
      for (const f of own) all.set(f.template, f);
    }
    files.set('unknown', [...all.values()]);
    this.runtimeFiles = files;
  }

  /** Identity with names of the process in this cgroup; undefined outside Kubernetes pods. */
  resolve(cgroupPath: string): ContainerIdentity | undefined {
    const cg = parseContainerCgroup(cgroupPath, this.kubeletRoot);
    return cg && this.identify(cg);
  }

  private identify({ monitoredId, ...cg }: ContainerCgroup): ContainerIdentity {
    const now = performance.now();
    this.maybePrune(now);
    if (cg.containerId === undefined) {
      // a conmon: the container it monitors names its pod (it is pod-level itself, no container)
      const monitored = monitoredId === undefined ? undefined : this.containerNames({ ...cg, containerId: monitoredId }, now);
      if (monitored?.namespace !== undefined && monitored.pod !== undefined) {
        this.rememberPod(cg.podUid, { namespace: monitored.namespace, pod: monitored.pod }, now);
        return { ...cg, namespace: monitored.namespace, pod: monitored.pod, container: undefined };
      }
      const pod = this.podNames(cg.podUid, now);
      return { ...cg, namespace: pod?.namespace, pod: pod?.pod, container: undefined };
    }
    const names = this.containerNames({ ...cg, containerId: cg.containerId }, now);
    if (names.namespace !== undefined && names.pod !== undefined) {
      this.rememberPod(cg.podUid, { namespace: names.namespace, pod: names.pod }, now);
      return { ...cg, namespace: names.namespace, pod: names.pod, container: names.container };
    }
    // e.g. a sandbox without log link whose bundle is not mounted here: its pod is still known
    const pod = this.podNames(cg.podUid, now);
    return { ...cg, namespace: pod?.namespace, pod: pod?.pod, container: names.container };
  }

  /** names of a container; `container` always set, to the short ID when no source names it */
  private containerNames(cg: Omit<ContainerCgroup, 'monitoredId'> & { containerId: string }, now: number): ContainerNames & { container: string } {
    const id = cg.containerId;
    const cached = this.containers.get(id);
    if (cached && (cached.named || now - cached.checkedAt < this.retryMs)) {
      cached.usedAt = now;
      return cached.names;
    }
    let names = this.logIndex.get(id)?.names;
    if (!names && this.mayList(now)) {
      this.listLogDir(now);
      names = this.logIndex.get(id)?.names;
    }
    const tried: string[] = [];
    names ??= this.fromRuntimeFiles(id, cg.runtime, tried);
    const named = names?.container !== undefined;
    const result = { namespace: names?.namespace, pod: names?.pod, podUid: names?.podUid, container: names?.container ?? id.slice(0, SHORT_ID_LENGTH) };
    if (!named && !cached) this.onUnnamed({ ...cg, namespace: result.namespace, pod: result.pod, container: result.container }, tried);
    this.containers.set(id, { names: result, named, checkedAt: now, usedAt: now });
    return result;
  }

  /** Names from any container of the pod seen so far, or from the log link targets. */
  private podNames(podUid: string, now: number): PodNames | undefined {
    const cached = this.pods.get(podUid);
    if (cached && (cached.names || now - cached.checkedAt < this.retryMs)) {
      cached.usedAt = now;
      return cached.names;
    }
    if (this.mayList(now)) this.listLogDir(now);
    const listed = this.pods.get(podUid)?.names;
    this.pods.set(podUid, { names: listed, checkedAt: now, usedAt: now });
    return listed;
  }

  private rememberPod(podUid: string, names: PodNames, now: number): void {
    const cached = this.pods.get(podUid);
    if (cached?.names) cached.usedAt = now;
    else this.pods.set(podUid, { names, checkedAt: now, usedAt: now });
  }

  private mayList(now: number): boolean {
    return now - this.listedAt >= this.minRefreshMs;
  }

  private listLogDir(now: number): void {
    this.listedAt = now;
    this.stats.logDirListings++;
    let fileNames: string[];
    try {
      // names only: entries are symlinks whose targets may not resolve here (host paths)
      fileNames = readdirSync(this.logDir).filter((name) => name.endsWith('.log') && !name.startsWith('.'));
    } catch (err) {
      // no log directory (not a kubelet node, or not mounted): nothing to name from, not an error
      if (errnoOf(err) !== 'ENOENT') {
        this.onError(new ProcReadError(this.logDir, errnoOf(err), { cause: err }));
        return;
      }
      fileNames = [];
    }
    const index = new Map<string, LogEntry>();
    for (const fileName of fileNames) {
      const parsed = parseContainerLogName(fileName);
      if (!parsed) continue;
      const previous = this.logIndex.get(parsed.containerId);
      const entry = previous?.fileName === fileName ? previous : this.logEntry(fileName, parsed);
      index.set(parsed.containerId, entry);
      if (entry.names.podUid !== undefined) this.rememberPod(entry.names.podUid, { namespace: parsed.namespace, pod: parsed.pod }, now);
    }
    this.logIndex = index;
  }

  private logEntry(fileName: string, parsed: ContainerLogName): LogEntry {
    let podUid: string | undefined;
    try {
      podUid = parsePodLogTarget(readlinkSync(path.join(this.logDir, fileName)))?.podUid;
    } catch {
      // gone since the listing, or a plain file (EINVAL): the name alone is enough
    }
    return { fileName, names: { namespace: parsed.namespace, pod: parsed.pod, container: parsed.container, podUid } };
  }

  private fromRuntimeFiles(id: string, runtime: ContainerRuntime, tried: string[]): ContainerNames | undefined {
    for (const source of this.runtimeFiles.get(runtime) ?? []) {
      const file = source.template.replace('{id}', id);
      tried.push(file);
      this.stats.runtimeFileLookups++;
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        if (!NOT_THERE.has(errnoOf(err))) this.onError(new ProcReadError(file, errnoOf(err), { cause: err }));
        continue;
      }
      try {
        const names = source.parse(text, file);
        if (names.namespace !== undefined || names.pod !== undefined || names.container !== undefined) return names;
      } catch (err) {
        if (err instanceof ExporterError) this.onError(err);
        else throw err;
      }
    }
    return undefined;
  }

  private maybePrune(now: number): void {
    if (now - this.prunedAt < this.ttlMs) return;
    this.prunedAt = now;
    for (const [id, c] of this.containers) if (now - c.usedAt >= this.ttlMs) this.containers.delete(id);
    for (const [uid, p] of this.pods) if (now - p.usedAt >= this.ttlMs) this.pods.delete(uid);
  }
}
