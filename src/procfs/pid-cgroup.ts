import { GONE, type FileReader } from './file-reader.js';

/*
 * /proc/<pid>/cgroup (cgroups(7)), one line per hierarchy the process belongs to:
 *
 *   hierarchy-ID:controller-list:cgroup-path
 *
 *   12:pids:/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid>.slice/crio-<id>.scope
 *   4:memory:/user.slice
 *   1:name=systemd:/init.scope                   (named v1 hierarchy, no controller)
 *   0::/system.slice/crio.service                (cgroup v2: ID 0, empty controller list)
 *
 * A pure v2 host has only the `0::` line, a v1-only host has none, a hybrid host has both. The
 * path is relative to the reader's cgroup namespace (a process outside it shows `/../..` first)
 * and may itself contain ':' (e.g. `...slice:cri-containerd:<id>`), so only the first two colons
 * separate fields. The kernel appends " (deleted)" to the v2 path of a removed cgroup (a zombie's).
 * Lines that do not have this shape are ignored.
 */
export interface CgroupLine {
  hierarchyId: number;
  /** e.g. ['cpu', 'cpuacct'] or ['name=systemd']; [] for the v2 line */
  controllers: string[];
  /** without the " (deleted)" suffix */
  path: string;
  /** the kernel marked the cgroup as removed */
  deleted: boolean;
}

export interface PidCgroup {
  /** in file order */
  lines: CgroupLine[];
  /** path of the v2 (`0::`) line; undefined on a v1-only host */
  v2Path: string | undefined;
}

const DELETED = ' (deleted)';

export function parsePidCgroup(text: string): PidCgroup {
  const lines: CgroupLine[] = [];
  let v2Path: string | undefined;
  for (const raw of text.split('\n')) {
    const first = raw.indexOf(':');
    const second = first < 0 ? -1 : raw.indexOf(':', first + 1);
    if (second < 0) continue;
    const id = raw.slice(0, first);
    if (!/^\d{1,10}$/.test(id)) continue;
    let path = raw.slice(second + 1);
    if (!path.startsWith('/')) continue;
    const deleted = path.endsWith(DELETED);
    if (deleted) path = path.slice(0, -DELETED.length);
    const list = raw.slice(first + 1, second);
    const line: CgroupLine = {
      hierarchyId: Number(id),
      controllers: list === '' ? [] : list.split(','),
      path,
      deleted,
    };
    lines.push(line);
    if (line.hierarchyId === 0 && list === '' && v2Path === undefined) v2Path = path;
  }
  return { lines, v2Path };
}

/** `path` is e.g. `/proc/1234/cgroup`; undefined when the process is gone. */
export function readPidCgroup(reader: FileReader, path: string): PidCgroup | undefined {
  const n = reader.readSingle(path);
  return n === GONE ? undefined : parsePidCgroup(reader.bytes.toString('utf8', 0, n));
}
