/**
 * Cgroup scope: perf counters attached to a cgroup v2 directory (PERF_FLAG_PID_CGROUP), one per
 * (online CPU, event). Such a counter counts every task in the cgroup and in its descendant cgroups,
 * whichever process tree they belong to and however short they live, at a cost independent of the
 * number of processes and threads: the natural scope for containers.
 */
import { closeSync, readFileSync } from 'node:fs';
import { isProcessGone } from '../errors.js';
import { CGROUP_OPEN_FLAGS, CounterSet, DeltaSums, type FdBudget, type OpenableEvent } from './counter-set.js';
import type { PerfSyscalls } from './syscall.js';

/*
 * /sys/devices/system/cpu/online, one line of ranges (cpu-list format, Documentation/admin-guide/cputopology.rst):
 *
 *   0-3,6,8-11
 */
export function parseCpuList(text: string): number[] {
  const cpus: number[] = [];
  for (const part of text.trim().split(',')) {
    if (part === '') continue;
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) continue;
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    for (let cpu = first; cpu <= last; cpu++) cpus.push(cpu);
  }
  return cpus;
}

export function readOnlineCpus(file = '/sys/devices/system/cpu/online'): number[] {
  return parseCpuList(readFileSync(file, 'utf8'));
}

export interface CgroupTarget {
  /** path relative to the cgroup2 mount, starting with "/" */
  path: string;
  /** directory of the cgroup as this process sees it */
  directory: string;
  groupKey: string;
}

interface Entry {
  target: CgroupTarget;
  set: CounterSet;
}

export interface CgroupScopeOptions {
  events: readonly OpenableEvent[];
  cpus: readonly number[];
  budget: FdBudget;
  syscalls: PerfSyscalls;
  /** an fd of the cgroup's directory (the host layer opens it); throws ENOENT when the cgroup is gone */
  openDirectory(directory: string): number;
}

export class CgroupScope {
  private readonly options: CgroupScopeOptions;
  private readonly entries = new Map<string, Entry>();

  constructor(options: CgroupScopeOptions) {
    this.options = options;
  }

  get cgroupCount(): number {
    return this.entries.size;
  }

  /** fds one cgroup needs */
  get fdsPerCgroup(): number {
    return this.options.cpus.length * this.options.events.length;
  }

  has(cgroupPath: string, groupKey: string): boolean {
    return this.entries.get(cgroupPath)?.target.groupKey === groupKey;
  }

  /** Reads every counter into `sink`; cgroups no longer wanted for the same group are read a last time and closed. */
  read(wanted: ReadonlyMap<string, CgroupTarget>, sink: (groupKey: string, delta: DeltaSums) => void): void {
    for (const [cgroupPath, entry] of [...this.entries]) {
      const d = new DeltaSums(this.options.events.length);
      entry.set.readInto(d);
      sink(entry.target.groupKey, d);
      if (wanted.get(cgroupPath)?.groupKey !== entry.target.groupKey) this.closeEntry(cgroupPath, entry);
    }
  }

  /** Opens the cgroup's counters; 'gone' when its directory no longer exists. Throws PerfError after closing what it opened. */
  open(target: CgroupTarget): 'opened' | 'gone' {
    let dirFd: number;
    try {
      dirFd = this.options.openDirectory(target.directory);
    } catch (err) {
      if (isProcessGone(err)) return 'gone';
      throw err;
    }
    const set = new CounterSet(this.options.budget, this.options.syscalls);
    try {
      const { events, cpus } = this.options;
      for (const cpu of cpus) {
        for (let e = 0; e < events.length; e++) set.open(events[e] as OpenableEvent, e, dirFd, cpu, CGROUP_OPEN_FLAGS);
      }
    } catch (err) {
      set.close();
      throw err;
    } finally {
      // the counters hold their own reference to the cgroup
      closeSync(dirFd);
    }
    this.entries.get(target.path)?.set.close();
    this.entries.set(target.path, { target, set });
    return 'opened';
  }

  /** Closes the group's counters without a last read (call it right after `read`). */
  closeGroup(groupKey: string): void {
    for (const [cgroupPath, entry] of [...this.entries]) {
      if (entry.target.groupKey === groupKey) this.closeEntry(cgroupPath, entry);
    }
  }

  closeAll(): void {
    for (const [cgroupPath, entry] of [...this.entries]) this.closeEntry(cgroupPath, entry);
  }

  private closeEntry(cgroupPath: string, entry: Entry): void {
    this.entries.delete(cgroupPath);
    entry.set.close();
  }
}

/** How a group is counted in cgroup scope. */
export type CgroupChoice =
  | { kind: 'cgroups'; paths: string[] }
  /** some member is not in a container cgroup (or its cgroup is unknown) */
  | { kind: 'not-container' }
  /** a cgroup of the group also holds another group's members: a cgroup counter would count them twice */
  | { kind: 'shared' };

const KUBEPODS_COMPONENT = /(?:^|-)kubepods(?:[-.]|$)/;

function parentOf(p: string): string | undefined {
  if (p === '/') return undefined;
  const i = p.lastIndexOf('/');
  return i <= 0 ? '/' : p.slice(0, i);
}

function inKubepods(p: string): boolean {
  return p.split('/').some((c) => KUBEPODS_COMPONENT.test(c));
}

/**
 * The cgroups to count each container group on. A cgroup counter counts its whole subtree, so each
 * group gets the highest cgroups, still inside the kubepods hierarchy, that hold members of no other
 * group: a group of all pods (the OpenShift `conmon` group) needs one cgroup, not one per container.
 * Tasks in those cgroups that belong to no group at all are counted with the group.
 */
export function chooseCgroups(
  groups: ReadonlyArray<{ key: string; paths: ReadonlyArray<string | undefined> }>,
  isContainerPath: (cgroupPath: string) => boolean,
): Map<string, CgroupChoice> {
  // cgroup -> groups with members in it or below it
  const owners = new Map<string, Set<string>>();
  for (const g of groups) {
    for (const p of new Set(g.paths)) {
      for (let a: string | undefined = p; a !== undefined; a = parentOf(a)) {
        const set = owners.get(a) ?? new Set<string>();
        set.add(g.key);
        owners.set(a, set);
      }
    }
  }
  const onlyFor = (p: string, key: string): boolean => {
    const set = owners.get(p);
    return set !== undefined && set.size === 1 && set.has(key);
  };
  const out = new Map<string, CgroupChoice>();
  for (const g of groups) {
    const paths = [...new Set(g.paths)];
    if (paths.length === 0 || paths.some((p) => p === undefined || !isContainerPath(p))) {
      out.set(g.key, { kind: 'not-container' });
      continue;
    }
    if ((paths as string[]).some((p) => !onlyFor(p, g.key))) {
      out.set(g.key, { kind: 'shared' });
      continue;
    }
    const climbed = new Set<string>();
    for (const p of paths as string[]) {
      let top = p;
      for (let up = parentOf(top); up !== undefined && inKubepods(up) && onlyFor(up, g.key); up = parentOf(up)) top = up;
      climbed.add(top);
    }
    const sorted = [...climbed].sort();
    out.set(g.key, { kind: 'cgroups', paths: sorted.filter((p) => !sorted.some((q) => q !== p && isWithinCgroup(p, q))) });
  }
  return out;
}

/** p is dir or below it */
export function isWithinCgroup(p: string, dir: string): boolean {
  return p === dir || dir === '/' || p.startsWith(`${dir}/`);
}
