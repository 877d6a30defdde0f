/**
 * Task scope: perf counters attached to processes, one counter per (thread, event) opened when the
 * process is first seen as a group member, with `inherit` so tasks created later are counted by the
 * kernel without new fds.
 *
 * Inheritance, as the kernel does it (kernel/events/core.c): when a task with an inherit counter
 * creates a task, the new task gets a child counter linked to the original (never to an
 * intermediate one). read(2) on the original fd returns its own count + the counts of all live
 * child counters + what exited children added when they exited; time_enabled/time_running are summed
 * the same way. So one fd per thread that existed at open covers everything descending from it.
 * A task created before its creator's counter was opened carries no child counter: it needs its own.
 *
 * inherit = 'threads' (attr.inherit_thread, Linux 5.13+): only new threads inherit. Every process has
 * its own counters, opened in the cycle that first sees it, and is counted in its own group. A
 * process that starts and exits between two cycles is not counted; nothing is counted twice.
 *
 * inherit = 'tree': forked children inherit too. A new member whose parent carries a counter that
 * was open when the child was forked is already counted: in the parent's group it gets no fd of its
 * own ("covered"); in another group it gets its own counter and its counts are subtracted from the
 * carrier's group ("split"), so each group gets its own processes' counts and nothing is counted
 * twice. The counter of an exited process stays open while covered descendants live, since their
 * child counters end when it is closed. Whether a child was forked before or after its parent's
 * counter was opened is told by the parent's thread's `children` file, read just before opening.
 * Limit: a child whose parent exited before the child was seen is reparented (to init or a
 * subreaper) and cannot be traced to its carrier; it gets its own counter and, if it did carry one,
 * is counted in both groups (daemons forked by counted processes).
 */
import { isProcessGone } from '../errors.js';
import { CounterSet, DeltaSums, TASK_OPEN_FLAGS, type FdBudget, type OpenableEvent } from './counter-set.js';
import type { PerfInherit } from './options.js';
import type { PerfSyscalls } from './syscall.js';

export interface TaskMember {
  pid: number;
  /** clock ticks since boot: with pid, the identity */
  startTime: number;
  groupKey: string;
}

export function identityKey(pid: number, startTime: number): string {
  return `${pid}:${startTime}`;
}

/** A process with counters of its own. */
interface Root {
  kind: 'root';
  id: string;
  pid: number;
  startTime: number;
  groupKey: string;
  set: CounterSet;
  /** tree: covered members whose counts arrive through this root */
  covered: Set<string>;
  /** tree: the root whose child counter this process carries, in another group */
  splitOf: Root | undefined;
  splits: Set<Root>;
  /** tree: pids of each thread's children forked before that thread's counters were opened */
  childrenBefore: Set<number>;
  /** the process has exited; kept open for its covered descendants */
  exited: boolean;
}

/** tree: a member counted through a root's child counter. */
interface Covered {
  kind: 'covered';
  id: string;
  pid: number;
  startTime: number;
  groupKey: string;
  root: Root;
}

export type OpenOutcome = 'opened' | 'covered' | 'gone';

/** What task scope needs to know of live processes (the host layer answers). */
export interface TaskLookup {
  /** start time and parent of a live process; undefined when gone */
  taskIdentity(pid: number): { startTime: number; ppid: number } | undefined;
  /** thread ids of a process; [] when gone */
  taskThreads(pid: number): number[];
  /** children of one thread; [] when gone or unknown to the kernel */
  taskChildren(pid: number, tid: number): number[];
}

export interface TaskScopeOptions {
  tasks: TaskLookup;
  events: readonly OpenableEvent[];
  inherit: PerfInherit;
  budget: FdBudget;
  syscalls: PerfSyscalls;
}

export class TaskScope {
  private readonly options: TaskScopeOptions;
  private readonly roots = new Map<string, Root>();
  private readonly covered = new Map<string, Covered>();
  /** tree: live roots and covered members by pid, for parent lookups */
  private readonly byPid = new Map<number, Root | Covered>();
  /** tree: members that left a covered state this cycle with their carrier still open */
  private readonly carrierOf = new Map<string, Root>();

  constructor(options: TaskScopeOptions) {
    this.options = options;
  }

  /** processes with counters of their own */
  get rootCount(): number {
    return this.roots.size;
  }

  get coveredCount(): number {
    return this.covered.size;
  }

  /** counted already (own counters or covered) */
  has(id: string): boolean {
    return this.roots.has(id) || this.covered.has(id);
  }

  /**
   * Reads every counter and adds each group's deltas into `sink`. Counters of processes that are no
   * longer members of the group they were opened for are read one last time and closed first.
   */
  read(current: ReadonlyMap<string, TaskMember>, sink: (groupKey: string, delta: DeltaSums) => void): void {
    this.carrierOf.clear();
    for (const c of this.covered.values()) {
      const m = current.get(c.id);
      if (m && m.groupKey === c.groupKey) continue;
      this.dropCovered(c);
      if (m) this.carrierOf.set(c.id, c.root);
    }
    const closing: Root[] = [];
    for (const root of this.roots.values()) {
      const m = current.get(root.id);
      if (m && m.groupKey === root.groupKey) continue;
      if (!m && root.covered.size > 0) {
        root.exited = true;
        continue;
      }
      closing.push(root);
    }
    for (const root of closing) {
      // its covered members lose their child counters with it: they are new members again
      for (const id of root.covered) {
        const c = this.covered.get(id);
        if (c) this.dropCovered(c);
      }
      for (const [id, carrier] of this.carrierOf) if (carrier === root) this.carrierOf.delete(id);
    }

    const n = this.options.events.length;
    const raw = new Map<Root, DeltaSums>();
    for (const root of this.roots.values()) {
      const d = new DeltaSums(n);
      root.set.readInto(d);
      raw.set(root, d);
    }
    for (const [root, d] of raw) {
      if (root.splits.size === 0) {
        sink(root.groupKey, d);
        continue;
      }
      // a split's raw count holds everything the carrier's counter holds of it, its own splits included
      const own = new DeltaSums(n);
      own.add(d);
      for (const split of root.splits) {
        const sd = raw.get(split);
        if (sd) own.subtractClamped(sd);
      }
      sink(root.groupKey, own);
    }
    for (const root of closing) this.closeRoot(root);
  }

  /**
   * Starts counting a new member (not `has`). Throws PerfError (PERF_FD_LIMIT when the budget or the
   * process fd limit is reached, PERMISSION_DENIED, ...) after closing what it opened.
   */
  open(member: TaskMember): OpenOutcome {
    const { tasks } = this.options;
    const id = identityKey(member.pid, member.startTime);
    const stat = tasks.taskIdentity(member.pid);
    // a pid reused since the snapshot is another process
    if (!stat || stat.startTime !== member.startTime) return 'gone';

    const tree = this.options.inherit === 'tree';
    const carrier = tree ? this.carrierOf.get(id) ?? this.carrierFromParent(member, stat.ppid) : undefined;
    if (carrier && carrier.groupKey === member.groupKey) {
      const c: Covered = { kind: 'covered', id, pid: member.pid, startTime: member.startTime, groupKey: member.groupKey, root: carrier };
      this.covered.set(id, c);
      carrier.covered.add(id);
      this.byPid.set(member.pid, c);
      return 'covered';
    }

    const set = new CounterSet(this.options.budget, this.options.syscalls);
    const childrenBefore = new Set<number>();
    try {
      for (const tid of tasks.taskThreads(member.pid)) {
        if (tree) this.readChildren(member.pid, tid, childrenBefore);
        this.openThread(set, tid);
      }
    } catch (err) {
      set.close();
      throw err;
    }
    if (set.size === 0) return 'gone';
    const root: Root = {
      kind: 'root', id, pid: member.pid, startTime: member.startTime, groupKey: member.groupKey, set,
      covered: new Set(), splitOf: carrier, splits: new Set(), childrenBefore, exited: false,
    };
    carrier?.splits.add(root);
    this.roots.set(id, root);
    if (tree) this.byPid.set(member.pid, root);
    return 'opened';
  }

  /**
   * Closes every counter of the group without a last read (call it right after `read`). Tree limit: a
   * process of this group that carries another group's counter is counted in that group until the
   * group is counted again.
   */
  closeGroup(groupKey: string): void {
    for (const root of [...this.roots.values()]) {
      if (root.groupKey !== groupKey) continue;
      for (const id of root.covered) {
        const c = this.covered.get(id);
        if (c) this.dropCovered(c);
      }
      this.closeRoot(root);
    }
    for (const c of [...this.covered.values()]) if (c.groupKey === groupKey) this.dropCovered(c);
  }

  /** Closes everything without reading. */
  closeAll(): void {
    for (const root of [...this.roots.values()]) this.closeRoot(root);
    this.covered.clear();
    this.byPid.clear();
    this.carrierOf.clear();
  }

  private openThread(set: CounterSet, tid: number): void {
    const { events } = this.options;
    for (let e = 0; e < events.length; e++) {
      try {
        set.open(events[e] as OpenableEvent, e, tid, -1, TASK_OPEN_FLAGS);
      } catch (err) {
        // the thread exited: what it ran before is not ours to count
        if (isProcessGone(err)) return;
        throw err;
      }
    }
  }

  private readChildren(pid: number, tid: number, into: Set<number>): void {
    for (const child of this.options.tasks.taskChildren(pid, tid)) into.add(child);
  }

  /** The root whose child counter a new member carries, when its parent is known to us. */
  private carrierFromParent(member: TaskMember, ppid: number): Root | undefined {
    const parent = this.byPid.get(ppid);
    if (!parent || parent.startTime > member.startTime) return undefined;
    if (parent.kind === 'covered') return parent.root;
    if (parent.exited || parent.childrenBefore.has(member.pid)) return undefined;
    return parent;
  }

  private dropCovered(c: Covered): void {
    this.covered.delete(c.id);
    c.root.covered.delete(c.id);
    if (this.byPid.get(c.pid) === c) this.byPid.delete(c.pid);
  }

  private closeRoot(root: Root): void {
    this.roots.delete(root.id);
    if (this.byPid.get(root.pid) === root) this.byPid.delete(root.pid);
    root.splitOf?.splits.delete(root);
    for (const split of root.splits) split.splitOf = undefined;
    root.set.close();
  }
}
