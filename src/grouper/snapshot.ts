/**
 * What one collection cycle produces: per-group accumulators (monotonic counters, current gauges)
 * and the live member processes, which the PSI and perf collectors attach to.
 */
import type { TaskDelays } from '../taskstats/exit-record.js';
import type { ProcessMember } from '../tracker/updates.js';

export type { ProcessMember };

export interface CpuCounters {
  /** seconds */
  user: number;
  /** seconds */
  system: number;
}

export interface ThreadGroupSnapshot {
  /** threads currently alive with this name */
  count: number;
  cpu: CpuCounters;
  /** CPU added in the last cycle (seconds): rates for top and the groups page */
  lastCycleCpu: CpuCounters;
  majorFaults: number;
  minorFaults: number;
  /** only filled when per-thread details are enabled */
  readBytes: number;
  writeBytes: number;
  voluntaryCtxSwitches: number;
  nonvoluntaryCtxSwitches: number;
}


export interface GroupStates {
  running: number;
  sleeping: number;
  waiting: number;
  zombie: number;
  other: number;
}

export interface GroupSnapshot {
  /** unique per (name, labels) */
  key: string;
  name: string;
  /** extra labels from the config rule (templated), added to every series of the group */
  labels: Readonly<Record<string, string>>;
  numProcs: number;
  numThreads: number;
  openFds: number;
  worstFdRatio: number;
  /** unix seconds; undefined when the group has no process */
  oldestStartTime: number | undefined;
  memory: {
    resident: number;
    virtual: number;
    swapped: number;
    /** only with gather-smaps */
    proportionalResident: number | undefined;
    proportionalSwapped: number | undefined;
  };
  states: GroupStates;
  /** tasks waiting in each kernel function (only when wchan is read) */
  wchans: ReadonlyMap<string, number>;
  /** monotonic counters since the exporter started */
  cpu: CpuCounters;
  /** what the group added in the last cycle (seconds, bytes): rates for top and the groups page */
  lastCycle: { cpuUser: number; cpuSystem: number; readBytes: number; writeBytes: number };
  readBytes: number;
  writeBytes: number;
  majorFaults: number;
  minorFaults: number;
  voluntaryCtxSwitches: number;
  nonvoluntaryCtxSwitches: number;
  /** processes that started (after the first cycle) and exited, counted by walks and exit records */
  processesStarted: number;
  processesExited: number;
  /** delay accounting of the group's exited tasks, seconds; undefined until a record carries it */
  delays: TaskDelays | undefined;
  /** by thread name; empty when threads are off */
  threads: ReadonlyMap<string, ThreadGroupSnapshot>;
  members: readonly ProcessMember[];
}

export interface ErrorCounts {
  /** whole-collection failures */
  scrapeErrors: number;
  /** processes that could not be read at all (not counting exits) */
  procReadErrors: number;
  /** processes read only in part (e.g. io denied) */
  partialErrors: number;
  /** read errors since start-up: file ("io", "stat", ...) -> errno ("EACCES", "parse") -> count */
  byFile: ReadonlyMap<string, ReadonlyMap<string, number>>;
}

export interface HostCpu {
  /** /proc/stat user+nice, seconds since boot */
  user: number;
  /** /proc/stat system, seconds since boot */
  system: number;
  /** host process CPU since start-up not found in any group (monotonic, >= 0) */
  unaccounted: number;
}

export interface CycleSnapshot {
  /** Date.now() when the cycle finished */
  timeMs: number;
  /** seconds since the previous cycle finished; 0 for the first */
  intervalSeconds: number;
  durationSeconds: number;
  /** sequence number, 1 for the first cycle */
  cycle: number;
  groups: readonly GroupSnapshot[];
  host: HostCpu;
  errors: ErrorCounts;
  /** taskstats exit records since start-up; undefined when the exporter runs without them */
  exitRecords?: { received: number; lost: number; delayAccounting: boolean };
}
