/**
 * One exiting task as the exit listener hands it over: the fields of its taskstats exit record the
 * exporter uses, in the exporter's units (seconds, counts, bytes).
 */

/** The counters the exporter keeps per task: totals in an exit record, increments in a cycle's update. */
export interface TaskCounterSet {
  cpuUser: number;
  cpuSystem: number;
  minorFaults: number;
  majorFaults: number;
  readBytes: number;
  writeBytes: number;
  voluntaryCtxSwitches: number;
  nonvoluntaryCtxSwitches: number;
}

/** Delay accounting of a task, seconds. */
export interface TaskDelays {
  /** waiting on a run queue (kept by the scheduler whether or not kernel.task_delayacct is on) */
  cpu: number;
  /** waiting for synchronous block I/O (kernel.task_delayacct) */
  blkio: number;
  /** waiting for swap-in (kernel.task_delayacct) */
  swapin: number;
  /** waiting in direct memory reclaim (kernel.task_delayacct) */
  reclaim: number;
}

export const DELAY_KINDS = ['cpu', 'blkio', 'swapin', 'reclaim'] as const satisfies readonly (keyof TaskDelays)[];

export function zeroDelays(): TaskDelays {
  return { cpu: 0, blkio: 0, swapin: 0, reclaim: 0 };
}

export interface ExitRecord {
  pid: number;
  tgid: number;
  /** parent at exit (after any re-parenting) */
  ppid: number;
  uid: number;
  comm: string;
  /** start of the thread group (its leader), unix seconds */
  startSeconds: number;
  /** the last task of its thread group: the process is dead */
  groupDead: boolean;
  /** this task's final counters (CPU in seconds, exact) */
  counters: TaskCounterSet;
  /** undefined when the kernel keeps no delay accounting */
  delays: TaskDelays | undefined;
  /** on the last task of a multi-threaded process: CPU seconds of all its threads */
  groupCpuSeconds: number | undefined;
}
