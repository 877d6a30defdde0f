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
 * - a thread's stat fields (readStat): comm, ppid, faults, CPU and its start, so a thread costs one
 *   query and no file read. The start comes from ac_etime (us since the task started, on the
 *   monotonic clock): start = reply time - ac_etime, the reply time known to within the send() that
 *   produced it. The same task answers with a start no later than the last time it was seen alive;
 *   a reused id answers with a later one (see identify()). stat's own state letter has no
 *   equivalent: a caller that needs it reads the file.
 *
 * prefetch() asks for every task of the cycle in batched sends; read() then copies from that
 * answer. A task prefetch did not cover is asked alone. A task that exited reads as filled-nothing.
 */
import { Target, TaskstatsClient, TaskstatsQueries, type QueryCounts, type TargetKind, type TaskstatsHandler } from '../taskstats/client.js';
import { readU64, TASKSTATS_FIELDS } from '../taskstats/taskstats-struct.js';
import { commOf, type PidStat, TICKS_PER_SECOND } from '../procfs/pid-stat.js';
import { COUNTERS, type CounterSource, type TaskCounters, type TaskRef } from './counter-source.js';

/** What a PID query fills for a thread. */
const THREAD_KINDS = COUNTERS.ctxSwitches | COUNTERS.io | COUNTERS.cpu;
/**
 * For a process the CPU and, when asked, the context switches of all its threads (the TGID reply
 * sums live and exited ones): its `status` is read anyway (VmSwap has no binary source) and its
 * `io` sums exited threads, which no reply does.
 */
const PROCESS_KINDS = COUNTERS.cpu | COUNTERS.wholeProcessCtxSwitches;

/** Column indices of one answer. */
const VCSW = 0;
const NIVCSW = 1;
const READ_BYTES = 2;
const WRITE_BYTES = 3;
const RUNTIME_NS = 4;
const UTIME_US = 5;
const STIME_US = 6;
const MINFLT = 7;
const MAJFLT = 8;
const PPID = 9;
/** bounds of the task's start (monotonic us): reply window minus ac_etime */
const START_LO_US = 10;
const START_HI_US = 11;
/** the end of the reply window: the task was alive at some moment before it */
const SEEN_US = 12;
const COLUMNS = 13;
/** bytes of ac_comm kept per answer */
const F = TASKSTATS_FIELDS;
const COMM_BYTES = F.ac_comm[1];
const US_PER_TICK = 1e6 / TICKS_PER_SECOND;

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

/** What the source keeps per task between cycles: the CPU split and, for a thread, its identity. */
export interface TaskMemory extends Split {
  /** the start handed out as stat's starttime (ticks since boot), -1 before the first readStat */
  startTicks: number;
  /** end of the window of the last reply that showed the task alive (monotonic us) */
  seenUs: number;
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
  comms = new Uint8Array(256 * COMM_BYTES);
  private client: TaskstatsClient | undefined;

  clear(): void {
    this.queries.clear();
    this.rows.clear();
  }

  /** Adds the queries `task` needs for `want`. */
  add(task: TaskRef, want: number): void {
    if (task.isThread) {
      if (want & THREAD_KINDS) this.addQuery(Target.THREAD, task.tid);
    } else if (want & PROCESS_KINDS) {
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
      this.comms = new Uint8Array(n * 2 * COMM_BYTES);
    }
    this.present.fill(0, 0, n);
    this.client = client;
    return client.query(this.queries, this);
  }

  /** Copies the fields this source uses out of the reply (reading only those: ~10 of ~50). */
  stats(index: number, raw: Buffer, at: number): void {
    const v = this.values;
    const o = index * COLUMNS;
    v[o + VCSW] = readU64(raw, at + F.nvcsw[0]);
    v[o + NIVCSW] = readU64(raw, at + F.nivcsw[0]);
    v[o + READ_BYTES] = readU64(raw, at + F.read_bytes[0]);
    v[o + WRITE_BYTES] = readU64(raw, at + F.write_bytes[0]);
    v[o + RUNTIME_NS] = readU64(raw, at + F.cpu_run_virtual_total[0]);
    v[o + UTIME_US] = readU64(raw, at + F.ac_utime[0]);
    v[o + STIME_US] = readU64(raw, at + F.ac_stime[0]);
    v[o + MINFLT] = readU64(raw, at + F.ac_minflt[0]);
    v[o + MAJFLT] = readU64(raw, at + F.ac_majflt[0]);
    v[o + PPID] = raw.readUInt32LE(at + F.ac_ppid[0]);
    const etimeUs = readU64(raw, at + F.ac_etime[0]);
    const client = this.client as TaskstatsClient;
    v[o + START_LO_US] = client.sentBeforeUs - etimeUs;
    v[o + START_HI_US] = client.sentAfterUs - etimeUs;
    v[o + SEEN_US] = client.sentAfterUs;
    // up to the NUL, by hand: a subarray per reply would allocate
    const comms = this.comms;
    const from = at + F.ac_comm[0];
    const to = index * COMM_BYTES;
    let i = 0;
    for (; i < COMM_BYTES && raw[from + i] !== 0; i++) comms[to + i] = raw[from + i] as number;
    if (i < COMM_BYTES) comms[to + i] = 0;
    this.present[index] = 1;
  }

  gone(): void {}
}

export class TaskstatsCounterSource implements CounterSource {
  readonly name = 'taskstats';
  readonly covers = THREAD_KINDS | COUNTERS.wholeProcessCtxSwitches;
  /** this cycle's prefetched answers */
  private readonly batch = new Answers();
  /** answers for a task prefetch did not cover, asked alone */
  private readonly single = new Answers();
  private readonly memory = new Map<number, TaskMemory>();
  private cycle = 0;
  /** the answers and row of the last lookup (row(): >= 0 answered, -2 exited) */
  private answers = this.batch;
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
   * cycle. Forgets what it kept of tasks not asked for in the last two cycles.
   */
  prefetch(tasks: readonly TaskRef[], want: number): void {
    this.cycle++;
    this.batch.clear();
    for (const t of tasks) this.batch.add(t, want);
    this.lastCounts = this.batch.run(this.client);
    if (this.cycle % 2 === 0) {
      for (const [key, m] of this.memory) if (this.cycle - m.seen > 2) this.memory.delete(key);
    }
  }

  /**
   * Row of the answer for (kind, id): from the prefetch, else asked alone now; sets this.answers.
   * -2 when the task exited, -1 when the query failed (reported through `failed`).
   */
  private lookup(task: TaskRef, kind: TargetKind, id: number, want: number, failed: (file: string, err: unknown) => void): number {
    let answers = this.batch;
    let row = answers.row(kind, id);
    if (row === -1) {
      answers = this.single;
      answers.clear();
      answers.add(task, want);
      try {
        answers.run(this.client);
      } catch (err) {
        failed(task.isThread ? 'task_taskstats' : 'taskstats', err);
        return -1;
      }
      row = answers.row(kind, id);
    }
    this.answers = answers;
    return row;
  }

  read(task: TaskRef, want: number, into: TaskCounters, failed: (file: string, err: unknown) => void): number {
    const isProcess = !task.isThread;
    want &= isProcess ? PROCESS_KINDS : THREAD_KINDS;
    if (want === 0) return 0;
    const kind = isProcess ? Target.PROCESS : Target.THREAD;
    const id = isProcess ? task.pid : task.tid;
    const row = this.lookup(task, kind, id, want, failed);
    if (row < 0) return 0;
    const v = this.answers.values;
    const o = row * COLUMNS;
    let filled = 0;
    // a thread's own, or (asked as wholeProcessCtxSwitches) the sum over a process's threads
    if (want & (COUNTERS.ctxSwitches | COUNTERS.wholeProcessCtxSwitches)) {
      into.voluntaryCtxSwitches = v[o + VCSW] as number;
      into.nonvoluntaryCtxSwitches = v[o + NIVCSW] as number;
      filled |= COUNTERS.ctxSwitches | (want & COUNTERS.wholeProcessCtxSwitches);
    }
    if (want & COUNTERS.io) {
      into.readBytes = v[o + READ_BYTES] as number;
      into.writeBytes = v[o + WRITE_BYTES] as number;
      filled |= COUNTERS.io;
    }
    if (want & COUNTERS.cpu) {
      const split = this.split(this.remember(keyOf(kind, id)), v, o);
      into.cpuUserUs = split.userUs;
      into.cpuSystemUs = split.systemUs;
      filled |= COUNTERS.cpu;
    }
    return filled;
  }

  /**
   * A thread's stat fields from its reply: pid, comm (`into.comm` kept when the bytes spell it),
   * ppid, minflt, majflt, utime and stime (ticks of the exact split, as stat's are of
   * cputime_adjust()), startTime; state is '' (no reply carries it). Undefined when the thread
   * exited, null when the query failed (the caller reads the file).
   */
  readStat(task: TaskRef, into: PidStat, failed: (file: string, err: unknown) => void): PidStat | undefined | null {
    if (!task.isThread) return null;
    const row = this.lookup(task, Target.THREAD, task.tid, THREAD_KINDS, failed);
    if (row === -2) return undefined;
    if (row < 0) return null;
    const { values: v, comms } = this.answers;
    const o = row * COLUMNS;
    const m = this.remember(keyOf(Target.THREAD, task.tid));
    into.startTime = identify(m, v[o + START_LO_US] as number, v[o + START_HI_US] as number, v[o + SEEN_US] as number);
    const split = this.split(m, v, o);
    const c = row * COMM_BYTES;
    let end = c;
    while (end < c + COMM_BYTES && comms[end] !== 0) end++;
    into.comm = commOf(comms, c, end, into.comm);
    into.pid = task.tid;
    into.state = '';
    into.ppid = v[o + PPID] as number;
    into.minflt = v[o + MINFLT] as number;
    into.majflt = v[o + MAJFLT] as number;
    into.utime = Math.floor(split.userUs / US_PER_TICK);
    into.stime = Math.floor(split.systemUs / US_PER_TICK);
    into.cminflt = 0;
    into.cmajflt = 0;
    into.cutime = 0;
    into.cstime = 0;
    return into;
  }

  private remember(key: number): TaskMemory {
    let m = this.memory.get(key);
    if (!m) {
      m = { userUs: 0, systemUs: 0, seen: this.cycle, startTicks: -1, seenUs: 0 };
      this.memory.set(key, m);
    }
    m.seen = this.cycle;
    return m;
  }

  private split(m: TaskMemory, v: Float64Array, o: number): Split {
    const utime = v[o + UTIME_US] as number;
    const stime = v[o + STIME_US] as number;
    const exact = v[o + RUNTIME_NS] as number;
    const runtimeUs = exact > 0 ? Math.floor(exact / 1000) : utime + stime;
    return splitRuntime(runtimeUs, utime, stime, m);
  }
}

/**
 * The start (ticks since boot) of the task a reply showed alive at some moment before `seenUs`,
 * started within [startLoUs, startHiUs] (monotonic us); the same number as long as it is the same
 * task. The same task was alive when last seen, so it started before that reply's `seenUs`; a task
 * that reuses the id started after the last one was seen alive, so its startLoUs exceeds that
 * unless it started within one send() of that moment, and the kernel hands out ids cyclically
 * over pid_max: a reuse that soon does not happen. A new task also starts a new CPU split.
 * Mutates `m`.
 */
export function identify(m: TaskMemory, startLoUs: number, startHiUs: number, seenUs: number): number {
  if (m.startTicks < 0 || startLoUs > m.seenUs) {
    if (m.startTicks >= 0) {
      m.userUs = 0;
      m.systemUs = 0;
    }
    // stat's starttime counts ticks since boot on the boot clock, which runs with the monotonic
    // one unless the host was suspended
    m.startTicks = Math.floor((startLoUs + startHiUs) / 2 / US_PER_TICK);
  }
  m.seenUs = Math.max(m.seenUs, seenUs);
  return m.startTicks;
}
