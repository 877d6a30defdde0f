import type { ContainerIdentity } from '../cgroup/types.js';
import type { ProcessAttributes } from '../config/attributes.js';
import { readPidCgroup } from '../procfs/pid-cgroup.js';
import { readPidCmdline } from '../procfs/pid-cmdline.js';
import type { PidStat } from '../procfs/pid-stat.js';
import { readPidStatus } from '../procfs/pid-status.js';
import type { FileReader } from '../procfs/file-reader.js';
import type { UserNames } from '../procfs/passwd.js';

export interface AttributeSources {
  reader: FileReader;
  userNames: UserNames;
  /** boot time, unix seconds */
  bootTime: number;
  ticksPerSecond: number;
  resolveContainer: ((cgroupPath: string) => ContainerIdentity | undefined) | undefined;
}

/**
 * ProcessAttributes backed by /proc, reading each file on first use only. Kept with the process
 * state after matching, so static data is read once per identity.
 */
export class LazyProcessAttributes implements ProcessAttributes {
  readonly pid: number;
  readonly ppid: number;
  readonly comm: string;
  readonly startTimeSeconds: number;
  private cmdlineCache: readonly string[] | undefined;
  private usernameCache: string | undefined;
  private cgroupsCache: { lines: readonly string[]; v2: string | undefined } | undefined;
  private containerCache: { value: ContainerIdentity | undefined } | undefined;

  constructor(
    stat: PidStat,
    private readonly src: AttributeSources,
  ) {
    this.pid = stat.pid;
    this.ppid = stat.ppid;
    this.comm = stat.comm;
    this.startTimeSeconds = src.bootTime + stat.startTime / src.ticksPerSecond;
  }

  private path(file: string): string {
    return `${this.src.reader.root}/${this.pid}/${file}`;
  }

  cmdline(): readonly string[] {
    this.cmdlineCache ??= readPidCmdline(this.src.reader, this.path('cmdline')) ?? [];
    return this.cmdlineCache;
  }

  username(): string {
    if (this.usernameCache === undefined) {
      // effective uid, as process-exporter's .Username
      const uid = readPidStatus(this.src.reader, this.path('status'))?.euid ?? -1;
      this.usernameCache = uid < 0 ? '' : this.src.userNames.name(uid);
    }
    return this.usernameCache;
  }

  private cgroupInfo(): { lines: readonly string[]; v2: string | undefined } {
    if (this.cgroupsCache === undefined) {
      const parsed = readPidCgroup(this.src.reader, this.path('cgroup'));
      this.cgroupsCache = parsed ? { lines: parsed.lines.map((l) => l.path), v2: parsed.v2Path } : { lines: [], v2: undefined };
    }
    return this.cgroupsCache;
  }

  cgroups(): readonly string[] {
    return this.cgroupInfo().lines;
  }

  cgroupPath(): string | undefined {
    return this.cgroupInfo().v2;
  }

  /** the cgroup path only if something already read it (no read of its own) */
  knownCgroupPath(): string | undefined {
    return this.cgroupsCache?.v2;
  }

  /** the container identity only if something already resolved it (no read of its own) */
  knownContainer(): ContainerIdentity | undefined {
    return this.containerCache?.value;
  }

  container(): ContainerIdentity | undefined {
    if (this.containerCache === undefined) {
      const resolve = this.src.resolveContainer;
      let value: ContainerIdentity | undefined;
      if (resolve) {
        // the v2 path first; on a v1-only node (older OpenShift) the v1 hierarchies carry the same kubepods path
        const v2 = this.cgroupPath();
        value = v2 !== undefined ? resolve(v2) : undefined;
        for (const path of this.cgroups()) {
          if (value) break;
          value = resolve(path);
        }
      }
      this.containerCache = { value };
    }
    return this.containerCache.value;
  }
}
