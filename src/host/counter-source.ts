/**
 * The interface between the host layer and a source of per-task counters.
 *
 * Identity, parent, CPU and faults of a process always come from `<pid>/stat` (one read per process
 * and cycle, needed to tell a reused pid); a thread's may come from a source that has them
 * (readStat), so that a thread costs no file read. The other cumulative counters of a tracked process or thread come
 * from a CounterSource. The procfs text source (procfs-counters.ts) covers every kind by reading
 * `status` and `io`; a binary source (the kernel's taskstats over generic netlink) may cover a
 * subset and is asked first: the host then asks the text source only for the kinds left.
 *
 * To add a source: implement CounterSource, declare in `covers` the kinds it fills exactly (same
 * unit and meaning as the procfs fields named below), and pass it to the Host as `counterSource`.
 * `read` is on the hot path (every tracked process and, with thread details, every thread, every
 * cycle): fill the caller's object, allocate nothing per call, never throw for a task that exited.
 */

import type { PidStat } from '../procfs/pid-stat.js';

/** Bits naming groups of counters; a mask of them says what a source covers or filled. */
export const COUNTERS = {
  /** status: voluntary_ctxt_switches, nonvoluntary_ctxt_switches (taskstats: nvcsw, nivcsw) */
  ctxSwitches: 1,
  /** io: read_bytes, write_bytes (taskstats: read_bytes, write_bytes) */
  io: 2,
  /** status: VmSwap in bytes (a gauge; taskstats has no equivalent) */
  swap: 4,
  /**
   * CPU time to the microsecond (taskstats: exact runtime split by the sampled user:system ratio).
   * Only a binary source fills it; without it the tracker uses the ticks of `stat`, read anyway.
   */
  cpu: 8,
  /**
   * A process's context switches summed over all its threads, live and exited (taskstats: a TGID
   * query's nvcsw, nivcsw), in the ctxSwitches fields. `status` holds the leader's alone, so only a
   * binary source fills it; with it a process needs no thread read for its count.
   */
  wholeProcessCtxSwitches: 16,
} as const;
/** the kinds the procfs text source fills (cpu is not among them: `stat` carries it) */
export const ALL_COUNTERS = COUNTERS.ctxSwitches | COUNTERS.io | COUNTERS.swap;

/** Cumulative counters of one task; only the fields of the kinds a read reported as filled are valid. */
export interface TaskCounters {
  voluntaryCtxSwitches: number;
  nonvoluntaryCtxSwitches: number;
  /** bytes the task caused to be fetched from / sent to the storage layer */
  readBytes: number;
  writeBytes: number;
  /** the process's swapped-out memory, bytes */
  swappedBytes: number;
  /** CPU time in user and kernel mode, microseconds (COUNTERS.cpu) */
  cpuUserUs: number;
  cpuSystemUs: number;
}

export function emptyTaskCounters(): TaskCounters {
  return { voluntaryCtxSwitches: 0, nonvoluntaryCtxSwitches: 0, readBytes: 0, writeBytes: 0, swappedBytes: 0, cpuUserUs: 0, cpuSystemUs: 0 };
}

/**
 * One task as a source addresses it: a whole process (tid === pid, counters of all its threads,
 * live and exited, like /proc/<pid>/io) or one thread (/proc/<pid>/task/<tid>). The procfs paths
 * are built once per identity by the host; a binary source uses pid and tid.
 */
export interface TaskRef {
  readonly pid: number;
  readonly tid: number;
  /** one thread (also the main thread, tid === pid) rather than the whole process */
  readonly isThread: boolean;
  /** `<procfs>/<pid>` or `<procfs>/<pid>/task/<tid>` */
  readonly dir: string;
  readonly statusPath: string;
  readonly ioPath: string;
}

export interface CounterSource {
  /** for logs and the read-error metrics */
  readonly name: string;
  /** mask of COUNTERS this source fills exactly */
  readonly covers: number;
  /**
   * Fills into `into` the kinds in `want` (a subset of `covers`) it could read for `task`; returns
   * the mask of kinds filled. A task that exited fills nothing and returns 0. A failed read is
   * reported through `failed(file, err)` (file: a short name such as "io" or "task_status") and
   * the kinds it would have filled are left out of the result.
   */
  read(task: TaskRef, want: number, into: TaskCounters, failed: (file: string, err: unknown) => void): number;
  /**
   * Optional: asks for all of a cycle's tasks at once (a binary source batches its requests), so
   * the read() calls that follow are served from that one answer.
   */
  prefetch?(tasks: readonly TaskRef[], want: number): void;
  /**
   * Optional: a thread's stat fields (pid, comm, ppid, minflt, majflt, utime, stime, startTime, as
   * `task/<tid>/stat` has them; state may be '') into `into`, instead of reading that file. A
   * source must hand out the same startTime for as long as the thread id names the same thread.
   * Returns `into`, undefined when the thread exited, null when it has no answer (the caller then
   * reads the file; a failure is reported through `failed`).
   */
  readStat?(task: TaskRef, into: PidStat, failed: (file: string, err: unknown) => void): PidStat | undefined | null;
}
