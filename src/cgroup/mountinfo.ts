/**
 * /proc/<pid>/mountinfo parser and cgroup v2 mount discovery.
 *
 * Format (proc(5)), one mount per line:
 *
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 *   (1)(2)(3)   (4)   (5)      (6)      (7)   (8) (9)   (10)         (11)
 *
 *   (1) mount ID  (2) parent ID  (3) major:minor of st_dev  (4) root: the directory of the filesystem
 *   that is mounted here  (5) mount point, relative to the reader's root  (6) per-mount options
 *   (7) zero or more optional fields "tag[:value]" (shared:N, master:N, propagate_from:N, unbindable)
 *   (8) the separator "-"  (9) filesystem type  (10) mount source  (11) per-superblock options
 *
 * Paths and the source escape space, tab, newline and backslash as octal: \040 \011 \012 \134.
 * For cgroup filesystems, the root (4) is shown relative to the reader's cgroup namespace, so a
 * reader inside a container's cgroup namespace sees the host's cgroup2 mount with a root like
 * `/../../..` — the same prefix /proc/<pid>/cgroup puts in front of the host's paths.
 */
import path from 'node:path';
import { ParseError, ProcReadError } from '../errors.js';
import type { FileReader } from '../procfs/file-reader.js';

export interface MountInfo {
  mountId: number;
  parentId: number;
  /** "major:minor" */
  device: string;
  root: string;
  mountPoint: string;
  mountOptions: string;
  optionalFields: readonly string[];
  fsType: string;
  source: string;
  superOptions: string;
}

function unescapeOctal(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

function parseId(value: string | undefined, file: string, lineNo: number, field: string): number {
  // mount IDs are C ints: more digits than that is not a mountinfo file
  if (value === undefined || !/^\d{1,10}$/.test(value)) {
    throw new ParseError(file, `line ${lineNo}: field ${field}: expected an integer, got ${JSON.stringify(value ?? '')}`);
  }
  return Number(value);
}

/** Parse the text of a mountinfo file; `file` names it in errors. */
export function parseMountInfo(text: string, file = 'mountinfo'): MountInfo[] {
  const mounts: MountInfo[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line === undefined || line.trim() === '') continue;
    const lineNo = i + 1;
    const fields = line.split(' ');
    const sep = fields.indexOf('-', 6);
    if (sep < 0 || fields.length < sep + 4) {
      throw new ParseError(file, `line ${lineNo}: expected "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS", got ${JSON.stringify(line)}`);
    }
    const [id, parent, device, root, mountPoint, mountOptions] = fields;
    if (device === undefined || !/^\d+:\d+$/.test(device)) {
      throw new ParseError(file, `line ${lineNo}: field major:minor: got ${JSON.stringify(device ?? '')}`);
    }
    mounts.push({
      mountId: parseId(id, file, lineNo, 'mount ID'),
      parentId: parseId(parent, file, lineNo, 'parent ID'),
      device,
      root: unescapeOctal(root ?? ''),
      mountPoint: unescapeOctal(mountPoint ?? ''),
      mountOptions: mountOptions ?? '',
      optionalFields: fields.slice(6, sep),
      fsType: fields[sep + 1] ?? '',
      source: unescapeOctal(fields[sep + 2] ?? ''),
      superOptions: fields.slice(sep + 3).join(' '),
    });
  }
  return mounts;
}

const PREFERRED_CGROUP2_MOUNT_POINTS = ['/sys/fs/cgroup', '/sys/fs/cgroup/unified'];

/**
 * The cgroup2 mount to read pressure files from: /sys/fs/cgroup (pure v2), then /sys/fs/cgroup/unified
 * (hybrid), then any other cgroup2 mount. When a mount point is mounted over, the last (visible) mount wins.
 */
export function findCgroup2Mount(mounts: readonly MountInfo[]): MountInfo | undefined {
  const cgroup2 = mounts.filter((m) => m.fsType === 'cgroup2');
  for (const preferred of PREFERRED_CGROUP2_MOUNT_POINTS) {
    const found = cgroup2.filter((m) => m.mountPoint === preferred).at(-1);
    if (found) return found;
  }
  return cgroup2[0];
}

/** Where the cgroup v2 hierarchy can be read, and how /proc/<pid>/cgroup paths map into it. */
export interface Cgroup2Mount {
  /** directory to read from, as this process sees it (rootfs prefix applied) */
  directory: string;
  /** the mount's root within the hierarchy, in the same namespace-relative form as /proc/<pid>/cgroup paths */
  root: string;
  /** how it was found, for log lines: the mountinfo file read, or "override" */
  origin: string;
}

export interface Cgroup2DiscoveryOptions {
  /**
   * host root filesystem as mounted in this container (node_exporter's --path.rootfs). When set, the
   * mount table of PID 1 (the host's init; needs hostPID) is read and its mount points are prefixed with it.
   */
  rootfs?: string | undefined;
  /** explicit cgroup2 root directory: skips discovery; /proc/<pid>/cgroup paths are taken relative to it */
  cgroup2Root?: string | undefined;
}

/**
 * The cgroup v2 hierarchy to read, or undefined when no cgroup2 filesystem is mounted (cgroup v1 only).
 * The mount table comes from the reader's procfs (`self`, or `1` with a rootfs).
 */
export function discoverCgroup2Mount(reader: FileReader, options: Cgroup2DiscoveryOptions): Cgroup2Mount | undefined {
  if (options.cgroup2Root !== undefined) {
    return { directory: options.cgroup2Root, root: '/', origin: 'override' };
  }
  const file = path.join(reader.root, options.rootfs !== undefined ? '1' : 'self', 'mountinfo');
  const text = reader.readText(file);
  if (text === undefined) throw new ProcReadError(file, 'ENOENT');
  const mount = findCgroup2Mount(parseMountInfo(text, file));
  if (!mount) return undefined;
  const directory = options.rootfs !== undefined ? path.join(options.rootfs, mount.mountPoint) : mount.mountPoint;
  return { directory, root: mount.root, origin: file };
}

function segments(p: string): string[] {
  return p.split('/').filter((s) => s !== '' && s !== '.');
}

/** A cgroup located in the mounted hierarchy. */
export interface ResolvedCgroup {
  /** path relative to the mount's root, starting with "/" (the `cgroup` label) */
  path: string;
  /** directory holding the cgroup's files */
  directory: string;
}

/**
 * Map a /proc/<pid>/cgroup v2 path onto the mount. Undefined when the cgroup is not visible through
 * the mount (outside the mount's root, e.g. a host process seen from a container's own cgroup2 mount).
 */
export function resolveCgroup(mount: Cgroup2Mount, cgroupPath: string): ResolvedCgroup | undefined {
  const rootSegs = segments(mount.root);
  const pathSegs = segments(cgroupPath);
  if (pathSegs.length < rootSegs.length) return undefined;
  for (let i = 0; i < rootSegs.length; i++) {
    if (pathSegs[i] !== rootSegs[i]) return undefined;
  }
  const rest = pathSegs.slice(rootSegs.length);
  if (rest.includes('..')) return undefined;
  return { path: `/${rest.join('/')}`, directory: path.join(mount.directory, ...rest) };
}
