import type { GroupAssignment } from '../config/attributes.js';
import type { ProcessMember } from '../grouper/snapshot.js';
import type { TaskCounterSet } from '../taskstats/exit-record.js';

/** Increments since the last cycle (seconds, counts, bytes); never negative. */
export type ProcessDelta = TaskCounterSet;

/** What one tracked thread (or a process's exited threads/children) adds this cycle. */
export interface ThreadUpdate extends ProcessDelta {
  name: string;
  /** 1 for a live thread, 0 for credit of exited threads and reaped children */
  alive: number;
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
  /** unix seconds */
  startTimeSeconds: number;
  threads: ThreadUpdate[];
}

export function zeroDelta(): ProcessDelta {
  return { cpuUser: 0, cpuSystem: 0, minorFaults: 0, majorFaults: 0, readBytes: 0, writeBytes: 0, voluntaryCtxSwitches: 0, nonvoluntaryCtxSwitches: 0 };
}

export function zeroThreadUpdate(name: string, alive: number): ThreadUpdate {
  return { name, alive, ...zeroDelta() };
}

/** A member with what is known at its first sight; the tracker fills in the rest each cycle. */
export function newProcessMember(fields: Pick<ProcessMember, 'pid' | 'startTime' | 'comm'> & Partial<ProcessMember>): ProcessMember {
  return {
    ppid: 0, cgroupPath: undefined, container: undefined, numThreads: 1, residentBytes: 0,
    cpuUser: 0, cpuSystem: 0, rule: undefined, inheritedFrom: undefined, ...fields,
  };
}
