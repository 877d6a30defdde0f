/**
 * Exit records in, credits out: the exact accounting of tasks that exit, from the kernel's
 * taskstats exit records (one per exiting thread, with its final counters). Pure: the tracker
 * hands in the records drained after this cycle's walk and a view of what the walks know.
 *
 * Attribution of a record, by its thread group (tgid):
 * 1. a process a walk saw (same pid, start within START_SLACK_SECONDS): its own group; the credit
 *    is its final counters minus what the walks already credited for it (`seen`);
 * 2. a process no walk saw (born and dead between two walks): the rules, matched with what the
 *    record holds (comm, pid, ppid, uid); a rule that needs cmdline, exe, cgroup or container
 *    counts as not matching; else, with `children`, the group of its nearest tracked ancestor
 *    (through vanished and unseen ancestors by their ppid); else it is not counted;
 * 3. a thread of a process alive at this walk: nothing; the process's own counters (which include
 *    its exited threads) are credited by the walk.
 *
 * Hand-over with the cutime fallback (the tracker credits a tracked parent's cutime growth minus
 * what it subtracts for children): every record credited here is subtracted from its nearest live
 * ancestor (`subtractChild`), and a tracked process closed by its record reports its final
 * counters (`closed`), which the tracker subtracts from its parent once it vanishes. So a child's
 * CPU is credited once: by its record, or, when the record was lost, by its parent's cutime.
 * Records are drained after the walk's listing, so the record of any exit a walk can see (a
 * vanished process, a parent's grown cutime) is already in the batch of that cycle.
 */
import type { GroupAssignment, ProcessAttributes } from '../config/attributes.js';
import type { ExitRecord, TaskDelays } from '../taskstats/exit-record.js';
import { type ProcessDelta, zeroDelta } from './updates.js';

export type { ExitRecord, TaskDelays };

/**
 * Start times of a record (wall clock, 1 s resolution) and of a walk (boot time + ticks) differ by
 * rounding; a pid reused within this window (pid_max forks in 2 s) would be taken for the same process.
 */
export const START_SLACK_SECONDS = 2;

/** What the walks know of a tracked process, as the exit accounting needs it. */
export interface TrackedView {
  startSeconds: number;
  ppid: number;
  groupKey: string;
  group: GroupAssignment;
  /** listed by this cycle's walk */
  live: boolean;
  /** its own counters as far as credited (last seen totals) */
  seen: ProcessDelta;
  /** already closed by an earlier record */
  closed: boolean;
}

export interface ExitWorld {
  /** a tracked process by pid, including those that vanished in this cycle */
  tracked(pid: number): TrackedView | undefined;
  /** start (unix seconds) of a pid this cycle's walk listed, tracked or not */
  liveStart(pid: number): number | undefined;
  match(p: ProcessAttributes): GroupAssignment | undefined;
  groupKey(g: GroupAssignment): string;
  userName(uid: number): string;
  /** unmatched processes join their nearest tracked ancestor's group */
  children: boolean;
  /** a credited child's counters, to take out of the cutime growth of the live tracked `pid` */
  subtractChild(pid: number, counters: ProcessDelta): void;
}

/** What exited tasks add to one group this cycle. */
export interface ExitCredit {
  groupKey: string;
  group: GroupAssignment;
  /** thread name the credit is filed under (the task's comm) */
  threadName: string;
  delta: ProcessDelta;
  delays: TaskDelays | undefined;
  /** processes known only from records: started and exited between two walks */
  started: number;
  exited: number;
}

/** A tracked process whose record closed it: its final own counters (the tracker credits nothing more). */
export interface ClosedProcess {
  pid: number;
  final: ProcessDelta;
}

export interface ExitCycleResult {
  credits: ExitCredit[];
  closed: ClosedProcess[];
  /** unseen processes credited from records: pid -> start, so a later walk that finds the zombie credits nothing */
  creditedUnseen: Map<number, number>;
}

/** A bound on the thread records of not-yet-seen processes held for one cycle. */
export const MAX_DEFERRED = 65_536;

const COUNTERS = ['cpuUser', 'cpuSystem', 'minorFaults', 'majorFaults', 'readBytes', 'writeBytes', 'voluntaryCtxSwitches', 'nonvoluntaryCtxSwitches'] as const;

function addInto(acc: ProcessDelta, d: ProcessDelta): void {
  for (const k of COUNTERS) acc[k] += d[k];
}

function addDelays(acc: TaskDelays | undefined, d: TaskDelays | undefined): TaskDelays | undefined {
  if (!d) return acc;
  const out = acc ?? { cpu: 0, blkio: 0, swapin: 0, reclaim: 0 };
  out.cpu += d.cpu;
  out.blkio += d.blkio;
  out.swapin += d.swapin;
  out.reclaim += d.reclaim;
  return out;
}

/** All records of one thread group in a batch. */
interface Exit {
  tgid: number;
  startSeconds: number;
  ppid: number;
  uid: number;
  /** the leader's comm when its record is in the batch, else the first record's */
  comm: string;
  groupDead: boolean;
  sum: ProcessDelta;
  delays: TaskDelays | undefined;
  groupCpuSeconds: number | undefined;
  records: ExitRecord[];
  /** held back from the last cycle already: not held again */
  deferredBefore: boolean;
}

const sameStart = (a: number, b: number): boolean => Math.abs(a - b) <= START_SLACK_SECONDS;

/** Attributes of a process known only from its record: no cmdline, exe or cgroup. */
class RecordAttributes implements ProcessAttributes {
  readonly partial = true;
  readonly pid: number;
  readonly ppid: number;
  readonly comm: string;
  readonly startTimeSeconds: number;

  constructor(
    e: Exit,
    private readonly userName: (uid: number) => string,
    private readonly uid: number,
  ) {
    this.pid = e.tgid;
    this.ppid = e.ppid;
    this.comm = e.comm;
    this.startTimeSeconds = e.startSeconds;
  }

  cmdline(): readonly string[] {
    return [];
  }

  username(): string {
    return this.userName(this.uid);
  }

  cgroups(): readonly string[] {
    return [];
  }

  cgroupPath(): string | undefined {
    return undefined;
  }

  container(): undefined {
    return undefined;
  }
}

/**
 * Turns each cycle's exit records into credits. Keeps, from one cycle to the next, only the
 * thread records of processes not seen yet and not known dead (a process may have been born after
 * the walk's listing: the next walk decides).
 */
export class ExitAccounting {
  private deferred: ExitRecord[] = [];

  /** `records`: drained after this cycle's walk listed the pids. */
  credit(records: readonly ExitRecord[], world: ExitWorld): ExitCycleResult {
    const exits = groupByProcess(this.deferred, records);
    this.deferred = [];
    const out: ExitCycleResult = { credits: [], closed: [], creditedUnseen: new Map() };
    const credits = new Map<string, ExitCredit>();
    const creditTo = (group: GroupAssignment, key: string, name: string, delta: ProcessDelta, delays: TaskDelays | undefined, churn: number): void => {
      const id = `${key}\u0000${name}`;
      let c = credits.get(id);
      if (!c) {
        c = { groupKey: key, group, threadName: name, delta: zeroDelta(), delays: undefined, started: 0, exited: 0 };
        credits.set(id, c);
      }
      addInto(c.delta, delta);
      c.delays = addDelays(c.delays, delays);
      c.started += churn;
      c.exited += churn;
    };
    const unseen: Exit[] = [];
    /** by tgid, for the ppid chains of unseen processes */
    const unseenByPid = new Map<number, Exit>();
    const decided = new Map<Exit, GroupAssignment | null>();

    for (const e of exits) {
      const t = world.tracked(e.tgid);
      if (t && sameStart(t.startSeconds, e.startSeconds)) {
        if (t.closed) continue;
        // a thread of a process still alive: the walk's process counters include it
        if (t.live && !e.groupDead) continue;
        const tail = tailOf(e, t.seen);
        creditTo(t.group, t.groupKey, e.comm, tail, e.delays, 0);
        const final = zeroDelta();
        for (const k of COUNTERS) final[k] = t.seen[k] + tail[k];
        out.closed.push({ pid: e.tgid, final });
        continue;
      }
      const live = world.liveStart(e.tgid);
      if (live !== undefined && sameStart(live, e.startSeconds)) continue; // an untracked live process
      if (!e.groupDead && !e.deferredBefore) {
        // thread exits of a process no walk has listed: it may be alive (born after the
        // listing); the next walk decides, unless too many are waiting
        if (this.deferred.length + e.records.length <= MAX_DEFERRED) {
          this.deferred.push(...e.records);
          continue;
        }
      }
      unseen.push(e);
      unseenByPid.set(e.tgid, e);
    }

    const groupOf = (e: Exit, depth: number): GroupAssignment | undefined => {
      const memo = decided.get(e);
      if (memo !== undefined) return memo ?? undefined;
      decided.set(e, null); // a ppid cycle ends here
      let g = world.match(new RecordAttributes(e, world.userName, e.uid));
      if (!g && world.children && depth < 256) g = this.ancestorGroup(e, world, unseenByPid, groupOf, depth);
      decided.set(e, g ?? null);
      return g;
    };

    for (const e of unseen) {
      const g = groupOf(e, 0);
      if (!g) continue;
      creditTo(g, world.groupKey(g), e.comm, e.sum, e.delays, e.groupDead ? 1 : 0);
      out.creditedUnseen.set(e.tgid, e.startSeconds);
      subtractFromLiveAncestor(e, world, unseenByPid);
    }
    out.credits = [...credits.values()];
    return out;
  }

  /** The nearest tracked ancestor's group, through tracked-but-vanished and unseen ancestors. */
  private ancestorGroup(e: Exit, world: ExitWorld, unseen: ReadonlyMap<number, Exit>, groupOf: (e: Exit, depth: number) => GroupAssignment | undefined, depth: number): GroupAssignment | undefined {
    const t = world.tracked(e.ppid);
    if (t && t.startSeconds <= e.startSeconds + START_SLACK_SECONDS) return t.group;
    const parent = unseen.get(e.ppid);
    if (parent && parent.startSeconds <= e.startSeconds + START_SLACK_SECONDS) return groupOf(parent, depth + 1);
    return undefined;
  }
}

/**
 * Records of one batch by thread group. A tgid reused within the batch (a new process with another
 * start) starts a new entry; lookups by tgid find the latest.
 */
function groupByProcess(deferred: readonly ExitRecord[], records: readonly ExitRecord[]): Exit[] {
  const all: Exit[] = [];
  const latest = new Map<number, Exit>();
  const add = (r: ExitRecord, wasDeferred: boolean): void => {
    let e = latest.get(r.tgid);
    if (!e || !sameStart(e.startSeconds, r.startSeconds)) {
      e = { tgid: r.tgid, startSeconds: r.startSeconds, ppid: r.ppid, uid: r.uid, comm: r.comm, groupDead: false, sum: zeroDelta(), delays: undefined, groupCpuSeconds: undefined, records: [], deferredBefore: false };
      latest.set(r.tgid, e);
      all.push(e);
    }
    if (r.pid === r.tgid) {
      e.comm = r.comm;
      e.ppid = r.ppid;
    }
    e.groupDead ||= r.groupDead;
    e.deferredBefore ||= wasDeferred;
    e.groupCpuSeconds = r.groupCpuSeconds ?? e.groupCpuSeconds;
    addInto(e.sum, r.counters);
    e.delays = addDelays(e.delays, r.delays);
    e.records.push(r);
  };
  for (const r of deferred) add(r, true);
  for (const r of records) add(r, false);
  for (const e of all) {
    // the thread group's own total is exact even when some thread records were lost
    if (e.groupCpuSeconds !== undefined) scaleCpu(e.sum, e.groupCpuSeconds);
  }
  return all;
}

/** Sets user+system to `total`, keeping their ratio (all user when both are 0). */
function scaleCpu(d: ProcessDelta, total: number): void {
  const sum = d.cpuUser + d.cpuSystem;
  d.cpuUser = sum > 0 ? (total * d.cpuUser) / sum : total;
  d.cpuSystem = total - d.cpuUser;
}

/**
 * Final counters minus what was credited: never negative. CPU is settled as a total (the walk's
 * user/system split and the record's may differ by a tick), then split as far as each part grew.
 */
function tailOf(e: Exit, seen: ProcessDelta): ProcessDelta {
  const tail = zeroDelta();
  for (const k of COUNTERS) tail[k] = Math.max(0, e.sum[k] - seen[k]);
  const total = Math.max(0, e.sum.cpuUser + e.sum.cpuSystem - seen.cpuUser - seen.cpuSystem);
  tail.cpuUser = Math.min(total, Math.max(0, e.sum.cpuUser - seen.cpuUser));
  tail.cpuSystem = total - tail.cpuUser;
  return tail;
}

/**
 * An unseen process's counters reach its parent's cutime when reaped, and from there, as each
 * ancestor is reaped, its nearest live ancestor's: that one must not be credited them again.
 */
function subtractFromLiveAncestor(e: Exit, world: ExitWorld, unseen: ReadonlyMap<number, Exit>): void {
  let ppid = e.ppid;
  for (let depth = 0; depth < 256; depth++) {
    const t = world.tracked(ppid);
    if (t?.live) {
      world.subtractChild(ppid, e.sum);
      return;
    }
    if (world.liveStart(ppid) !== undefined) return; // an untracked live ancestor: nothing credited there
    const next = t?.ppid ?? unseen.get(ppid)?.ppid;
    if (next === undefined) return;
    ppid = next;
  }
}
