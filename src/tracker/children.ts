/**
 * Exited-children accounting. A vanished child's CPU and faults show up in its parent's
 * cutime/cstime/cminflt/cmajflt once it is reaped. What the tracker already counted for it (its
 * last seen totals, its own reaped children included) is subtracted from the growth of its nearest
 * live ancestor, and only the rest is credited: CPU of children that lived and died between two
 * cycles. The credit never goes back: a child subtracted before its parent's cutime grows (reaped
 * after the cycle that saw it vanish) is settled against that growth later.
 *
 * Pure: tasks in, credits out; the tracker's process states satisfy these interfaces as they are.
 */

/**
 * Ticks, faults and bytes. A reaped child's I/O joins its parent's /proc/<pid>/io
 * (wait_task_zombie adds it to the parent's signal ioac) as its CPU joins cutime, but in the same
 * counter as the parent's own I/O: the parent's whole I/O growth is settled the same way.
 */
export interface ChildCounters {
  user: number;
  system: number;
  minflt: number;
  majflt: number;
  readBytes: number;
  writeBytes: number;
}

export const zeroChildCounters = (): ChildCounters => ({ user: 0, system: 0, minflt: 0, majflt: 0, readBytes: 0, writeBytes: 0 });

/** Cumulative totals of a task and of its reaped children, as its stat reports them. */
export interface ChildSample {
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
  minflt: number;
  majflt: number;
  cminflt: number;
  cmajflt: number;
}

/** The accounting state of one tracked process. */
export interface ChildAccount {
  /** growth of the c* fields minus the last seen totals of vanished children, cumulative */
  net: ChildCounters;
  /** high-water mark of `net` already credited */
  credited: ChildCounters;
  /** last seen totals of children that vanished since the last credit, to subtract */
  vanished: ChildCounters;
}

export function newChildAccount(): ChildAccount {
  return { net: zeroChildCounters(), credited: zeroChildCounters(), vanished: zeroChildCounters() };
}

/** A tracked process that vanished this cycle, with its last seen totals. */
export interface VanishedTask extends ChildSample {
  pid: number;
  ppid: number;
  startTime: number;
  /** read and write bytes (its own and its reaped children's) */
  readBytes: number;
  writeBytes: number;
}

/** A process alive this cycle that can take a vanished descendant's subtraction. */
export interface LiveAncestor {
  startTime: number;
  children: ChildAccount;
}

/** Limit of the ancestor walk: guards against a ppid loop in inconsistent reads. */
const MAX_DEPTH = 256;

/**
 * Adds each vanished task's last seen totals to the account of its nearest live ancestor, walking
 * through ancestors that vanished in the same cycle. `live(pid)` is the process alive now under
 * that pid that was already known last cycle (a newcomer's cutime is credited whole, so nothing
 * is subtracted from it), or undefined. An ancestor that started after the task is a reused pid.
 */
export function attributeVanished(vanished: readonly VanishedTask[], live: (pid: number) => LiveAncestor | undefined): void {
  const byPid = new Map<number, VanishedTask>();
  for (const v of vanished) byPid.set(v.pid, v);
  for (const v of vanished) {
    let ancestorPid = v.ppid;
    for (let depth = 0; depth < MAX_DEPTH; depth++) {
      const ancestor = live(ancestorPid);
      if (ancestor && ancestor.startTime <= v.startTime) {
        const gone = ancestor.children.vanished;
        gone.user += v.utime + v.cutime;
        gone.system += v.stime + v.cstime;
        gone.minflt += v.minflt + v.cminflt;
        gone.majflt += v.majflt + v.cmajflt;
        gone.readBytes += v.readBytes;
        gone.writeBytes += v.writeBytes;
        break;
      }
      const gone = byPid.get(ancestorPid);
      if (!gone || gone.startTime > v.startTime) break;
      ancestorPid = gone.ppid;
    }
  }
}

/**
 * The credit for children reaped since the last cycle that were not counted yet, given the
 * process's c* fields now and at the last cycle, and its I/O growth (`io`, its own included: the
 * credit for bytes is the whole I/O credit). Written into `out` (no allocation) and returned.
 */
export function creditChildren(account: ChildAccount, now: ChildSample, last: ChildSample, io: { readBytes: number; writeBytes: number }, out: ChildCounters): ChildCounters {
  const { net, credited: done, vanished: gone } = account;
  net.readBytes += io.readBytes - gone.readBytes;
  net.writeBytes += io.writeBytes - gone.writeBytes;
  net.user += Math.max(0, now.cutime - last.cutime) - gone.user;
  net.system += Math.max(0, now.cstime - last.cstime) - gone.system;
  net.minflt += Math.max(0, now.cminflt - last.cminflt) - gone.minflt;
  net.majflt += Math.max(0, now.cmajflt - last.cmajflt) - gone.majflt;
  gone.user = 0;
  gone.system = 0;
  gone.minflt = 0;
  gone.majflt = 0;
  gone.readBytes = 0;
  gone.writeBytes = 0;
  out.user = Math.max(0, net.user - done.user);
  out.system = Math.max(0, net.system - done.system);
  out.minflt = Math.max(0, net.minflt - done.minflt);
  out.majflt = Math.max(0, net.majflt - done.majflt);
  out.readBytes = Math.max(0, net.readBytes - done.readBytes);
  out.writeBytes = Math.max(0, net.writeBytes - done.writeBytes);
  done.user += out.user;
  done.system += out.system;
  done.minflt += out.minflt;
  done.majflt += out.majflt;
  done.readBytes += out.readBytes;
  done.writeBytes += out.writeBytes;
  return out;
}
