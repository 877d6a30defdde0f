/**
 * The binary counter source: the kernel's task accounting (taskstats over generic netlink) instead
 * of the `status` and `io` text files, and CPU time to the microsecond instead of 10 ms ticks.
 *
 * What it fills, with the same meaning as the procfs fields:
 * - ctxSwitches and io, for a thread: nvcsw, nivcsw, read_bytes, write_bytes of a PID query,
 *   instead of task/<tid>/status and task/<tid>/io. For a process the host reads `status` anyway
 *   (VmSwap, which no reply carries; it also holds the main thread's context switches, as a PID
 *   query would) and `io` (it sums exited threads; a TGID reply has no I/O fields).
 * - cpu: the scheduler's exact runtime (cpu_run_virtual_total, ns; a TGID query for a process, which
 *   includes its exited threads as its stat does) split into user and system by the sampled
 *   utime:stime ratio, as the kernel's cputime_adjust() does for /proc, each half never decreasing.
 *   A kernel without delay accounting reports no exact runtime; then the sampled times are used.
 *
 * prefetch() asks for every task of the cycle in batched sends; read() then copies from that
 * answer. A task prefetch did not cover is asked alone. A task that exited reads as filled-nothing.
 */
import { Target, TaskstatsClient, TaskstatsQueries, type QueryCounts, type TargetKind, type TaskstatsHandler } from '../taskstats/client.js';
import type { TaskStats } from '../taskstats/taskstats-struct.js';
import { COUNTERS, type CounterSource, type TaskCounters, type TaskRef } from './counter-source.js';

/** What a PID query fills for a thread. */
const THREAD_KINDS = COUNTERS.ctxSwitches | COUNTERS.io | COUNTERS.cpu;
/**
 * For a process only the CPU: its `status` is read anyway (VmSwap has no binary source) and holds
 * the context switches; its `io` sums exited threads, which no reply does.
 */
const PROCESS_KINDS = COUNTERS.cpu;

/** Column indices of one answer. */
const VCSW = 0;
const NIVCSW = 1;
const READ_BYTES = 2;
const WRITE_BYTES = 3;
const RUNTIME_NS = 4;
const UTIME_US = 5;
const STIME_US = 6;
const COLUMNS = 7;

/** key of a query: one number for (kind, id) */
function keyOf(kind: number, id: number): number {
  return id * 4 + kind;
}

/** Last user/system split handed out per task, so neither half goes down (kernel: prev_cputime). */
interface Split {
  userUs: number;
  systemUs: number;
  seen: number;
}

/**
 * Splits `runtimeUs` like cputime_adjust(): system share = stime / (utime + stime), neither half
 * below the last one handed out, their sum never above the runtime; a runtime below what was
 * handed out starts over (a reused id). Mutates and returns `prev`.
 */
export function splitRuntime(runtimeUs: number, utimeUs: number, stimeUs: number, prev: Split): Split {
  const handedOut = prev.userUs + prev.systemUs;
  if (runtimeUs < handedOut) {
    // a task's runtime never decreases: this is another task under a reused id
    prev.userUs = 0;
    prev.systemUs = 0;
  } else if (runtimeUs === handedOut) {
    return prev;
  }
  let system: number;
  if (stimeUs === 0) system = 0;
  else if (utimeUs === 0) system = runtimeUs;
  else system = Math.floor((runtimeUs * stimeUs) / (utimeUs + stimeUs));
  if (system < prev.systemUs) system = prev.systemUs;
  let user = runtimeUs - system;
  if (user < prev.userUs) {
    user = prev.userUs;
    system = runtimeUs - user;
  }
  prev.userUs = user;
  prev.systemUs = system;
  return prev;
}

/** The answers of one query run: rows by query key, counters in columns. */
class Answers implements TaskstatsHandler {
  readonly queries = new TaskstatsQueries();
  /** query key -> query index (= row) */
  readonly rows = new Map<number, number>();
  values = new Float64Array(256 * COLUMNS);
  present = new Uint8Array(256);

  clear(): void {
    this.queries.clear();
    this.rows.clear();
  }

  /** Adds the queries `task` needs for `want`. */
  add(task: TaskRef, want: number): void {
    if (task.isThread) {
      if (want & THREAD_KINDS) this.addQuery(Target.THREAD, task.tid);
    } else if (want & COUNTERS.cpu) {
      this.addQuery(Target.PROCESS, task.pid);
    }
  }

  private addQuery(kind: TargetKind, id: number): void {
    const key = keyOf(kind, id);
    if (!this.rows.has(key)) this.rows.set(key, this.queries.add(kind, id));
  }

  /** Row of (kind, id) when asked and answered; -1 when not asked; -2 when the task exited. */
  row(kind: number, id: number): number {
    const row = this.rows.get(keyOf(kind, id));
    if (row === undefined) return -1;
    return this.present[row] ? row : -2;
  }

  run(client: TaskstatsClient): QueryCounts {
    const n = this.queries.count;
    if (this.present.length < n) {
      this.present = new Uint8Array(n * 2);
      this.values = new Float64Array(n * 2 * COLUMNS);
    }
    this.present.fill(0, 0, n);
    return client.query(this.queries, this);
  }

  stats(index: number, s: TaskStats): void {
    const v = this.values;
    const o = index * COLUMNS;
    v[o + VCSW] = s.nvcsw;
    v[o + NIVCSW] = s.nivcsw;
    v[o + READ_BYTES] = s.readBytes;
    v[o + WRITE_BYTES] = s.writeBytes;
    v[o + RUNTIME_NS] = s.cpuRunVirtualNs;
    v[o + UTIME_US] = s.utimeUs;
    v[o + STIME_US] = s.stimeUs;
    this.present[index] = 1;
  }

  gone(): void {}
}

export class TaskstatsCounterSource implements CounterSource {
  readonly name = 'taskstats';
  readonly covers = THREAD_KINDS;
  /** this cycle's prefetched answers */
  private readonly batch = new Answers();
  /** answers for a task prefetch did not cover, asked alone */
  private readonly single = new Answers();
  private readonly splits = new Map<number, Split>();
  private cycle = 0;
  /** what the last prefetch cost */
  lastCounts: QueryCounts | undefined;

  constructor(private readonly client: TaskstatsClient) {}

  /** Opens a taskstats client; throws NetlinkError (TASKSTATS_UNAVAILABLE, PERMISSION_DENIED) when it cannot be used. */
  static open(): TaskstatsCounterSource {
    return new TaskstatsCounterSource(TaskstatsClient.open());
  }

  close(): void {
    this.client.close();
  }

  /**
   * Asks for every task of `tasks` at once (the kinds in `want`), for the read() calls of this
   * cycle. Forgets the CPU splits of tasks not asked for in the last two cycles.
   */
  prefetch(tasks: readonly TaskRef[], want: number): void {
    this.cycle++;
    this.batch.clear();
    for (const t of tasks) this.batch.add(t, want);
    this.lastCounts = this.batch.run(this.client);
    if (this.cycle % 2 === 0) {
      for (const [key, split] of this.splits) if (this.cycle - split.seen > 2) this.splits.delete(key);
    }
  }

  read(task: TaskRef, want: number, into: TaskCounters, failed: (file: string, err: unknown) => void): number {
    const isProcess = !task.isThread;
    want &= isProcess ? PROCESS_KINDS : THREAD_KINDS;
    if (want === 0) return 0;
    const needThread = !isProcess;
    const needProcess = isProcess;
    let answers = this.batch;
    if ((needThread && answers.row(Target.THREAD, task.tid) === -1) || (needProcess && answers.row(Target.PROCESS, task.pid) === -1)) {
      answers = this.single;
      answers.clear();
      answers.add(task, want);
      try {
        answers.run(this.client);
      } catch (err) {
        failed(isProcess ? 'taskstats' : 'task_taskstats', err);
        return 0;
      }
    }
    let filled = 0;
    const v = answers.values;
    const threadRow = needThread ? answers.row(Target.THREAD, task.tid) : -1;
    if (threadRow >= 0) {
      const o = threadRow * COLUMNS;
      if (want & COUNTERS.ctxSwitches) {
        into.voluntaryCtxSwitches = v[o + VCSW] as number;
        into.nonvoluntaryCtxSwitches = v[o + NIVCSW] as number;
        filled |= COUNTERS.ctxSwitches;
      }
      if (want & COUNTERS.io) {
        into.readBytes = v[o + READ_BYTES] as number;
        into.writeBytes = v[o + WRITE_BYTES] as number;
        filled |= COUNTERS.io;
      }
      if (want & COUNTERS.cpu) {
        this.fillCpu(keyOf(Target.THREAD, task.tid), v, o, into);
        filled |= COUNTERS.cpu;
      }
    }
    const processRow = needProcess ? answers.row(Target.PROCESS, task.pid) : -1;
    if (processRow >= 0) {
      this.fillCpu(keyOf(Target.PROCESS, task.pid), v, processRow * COLUMNS, into);
      filled |= COUNTERS.cpu;
    }
    return filled;
  }

  private fillCpu(key: number, v: Float64Array, o: number, into: TaskCounters): void {
    const utime = v[o + UTIME_US] as number;
    const stime = v[o + STIME_US] as number;
    const exact = v[o + RUNTIME_NS] as number;
    const runtimeUs = exact > 0 ? Math.floor(exact / 1000) : utime + stime;
    let prev = this.splits.get(key);
    if (!prev) {
      prev = { userUs: 0, systemUs: 0, seen: this.cycle };
      this.splits.set(key, prev);
    }
    prev.seen = this.cycle;
    const split = splitRuntime(runtimeUs, utime, stime, prev);
    into.cpuUserUs = split.userUs;
    into.cpuSystemUs = split.systemUs;
  }
}
