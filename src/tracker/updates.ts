import type { ContainerIdentity } from '../cgroup/types.js';
import type { GroupAssignment } from '../config/attributes.js';
import type { TaskCounterSet } from '../taskstats/exit-record.js';

/** A live process of a group, as the PSI and perf collectors attach to it. */
export interface ProcessMember {
  pid: number;
  ppid: number;
  /** clock ticks since boot: with pid, the identity of the process */
  startTime: number;
  comm: string;
  /** cgroup v2 path (the `0::` line of /proc/<pid>/cgroup), when it has been read */
  cgroupPath: string | undefined;
  /** Kubernetes identity, when matching already resolved it */
  container: ContainerIdentity | undefined;
  numThreads: number;
  residentBytes: number;
  /** CPU added in the last cycle, seconds (own, plus reaped children's credit) */
  cpuUser: number;
  cpuSystem: number;
  /** index of the config rule it matched; undefined when it joined an ancestor's group (or legacy flags) */
  rule: number | undefined;
  /** pid of the tracked parent whose group it joined (-children), undefined when it matched a rule */
  inheritedFrom: number | undefined;
}

/** Increments since the last cycle (seconds, counts, bytes); never negative. */
export type ProcessDelta = TaskCounterSet;

/** What one tracked thread (or a process's exited threads/children) adds this cycle. */
export interface ThreadUpdate extends ProcessDelta {
  name: string;
  /** 1 for a live thread, 0 for credit of exited threads and reaped children */
  alive: number;
  /** stat state letter of a live thread (R, S, D, Z, ...) */
  state: string;
  /** kernel function a live thread waits in ("" for none or when wchan is not read) */
  wchan: string;
}

export interface ProcessUpdate {
  groupKey: string;
  group: GroupAssignment;
  member: ProcessMember;
  delta: ProcessDelta;
  residentBytes: number;
  virtualBytes: number;
  swappedBytes: number;
  /** only with gather-smaps */
  pssBytes: number | undefined;
  swapPssBytes: number | undefined;
  /** -1 when unknown */
  openFds: number;
  fdLimit: number;
  numThreads: number;
  state: string;
  /** kernel function the process (its leader) waits in; "" for none or when wchan is not read */
  wchan: string;
  /** unix seconds */
  startTimeSeconds: number;
  threads: ThreadUpdate[];
}

export function zeroDelta(): ProcessDelta {
  return { cpuUser: 0, cpuSystem: 0, minorFaults: 0, majorFaults: 0, readBytes: 0, writeBytes: 0, voluntaryCtxSwitches: 0, nonvoluntaryCtxSwitches: 0 };
}

export function zeroThreadUpdate(name: string, alive: number): ThreadUpdate {
  return { name, alive, state: '', wchan: '', ...zeroDelta() };
}

/** A member with what is known at its first sight; the tracker fills in the rest each cycle. */
export function newProcessMember(fields: Pick<ProcessMember, 'pid' | 'startTime' | 'comm'> & Partial<ProcessMember>): ProcessMember {
  return {
    ppid: 0, cgroupPath: undefined, container: undefined, numThreads: 1, residentBytes: 0,
    cpuUser: 0, cpuSystem: 0, rule: undefined, inheritedFrom: undefined, ...fields,
  };
}
