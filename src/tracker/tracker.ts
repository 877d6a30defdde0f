import { performance } from 'node:perf_hooks';
import type { ContainerIdentity } from '../cgroup/types.js';
import type { GroupAssignment, ProcessMatcher } from '../config/attributes.js';
import { ParseError, ProcReadError } from '../errors.js';
import { UserNames } from '../procfs/passwd.js';
import { type PidIo, readPidIo } from '../procfs/pid-io.js';
import { type PidLimits, readPidLimits } from '../procfs/pid-limits.js';
import { type PidSmapsRollup, readPidSmapsRollup } from '../procfs/pid-smaps-rollup.js';
import { emptyPidStat, type PidStat, readPidStat } from '../procfs/pid-stat.js';
import { type PidStatus, readPidStatus } from '../procfs/pid-status.js';
import { GONE, ProcReader } from '../host/proc-reader.js';
import { type ProcStat, readProcStat } from '../procfs/proc-stat.js';
import { type ExitCredit, type ExitRecord, type ExitWorld, ExitAccounting, START_SLACK_SECONDS, type TrackedView } from './exit-credit.js';
import { LazyProcessAttributes, type AttributeSources } from '../host/process-attributes.js';
import { newProcessMember, type ProcessDelta, type ProcessUpdate, type ThreadUpdate, zeroDelta, zeroThreadUpdate } from './updates.js';

/** USER_HZ: the unit of /proc tick counts, fixed at 100 for user space on every Linux arch. */
export const TICKS_PER_SECOND = 100;

export interface TrackerOptions {
  procfsRoot: string;
  matcher: ProcessMatcher;
  /** unmatched descendants join the nearest tracked ancestor's group (process-exporter -children) */
  children: boolean;
  /** per-thread metrics (process-exporter -threads) for groups whose rule does not say (`threads:`) */
  threads: boolean;
  /** per-thread io and context switches: two more files per thread */
  threadDetails: boolean;
  /** proportional memory from smaps_rollup (process-exporter -gather-smaps) */
  gatherSmaps: boolean;
  /** re-read static data and re-match every process each cycle (process-exporter -recheck) */
  recheck: boolean;
  pageSize: number;
  resolveContainer?: (cgroupPath: string) => ContainerIdentity | undefined;
  /** taskstats exit records: exited tasks are credited exactly, cutime only for records lost */
  exitRecords?: ExitRecordSource;
}

/** Where exit records come from (the taskstats exit listener). */
export interface ExitRecordSource {
  /** every record received since the last call; called once per cycle, after the walk's listing */
  drain(): readonly ExitRecord[];
  /** records received and lost (receive buffer overflow) since the start */
  readonly received: number;
  readonly lost: number;
  close(): void;
}

export interface TrackerErrors {
  procReadErrors: number;
  partialErrors: number;
  byCause: Map<string, number>;
}

export interface TrackerResult {
  cycle: number;
  updates: ProcessUpdate[];
  host: ProcStat;
  errors: TrackerErrors;
  /** exited tasks' credits and process starts/exits, per group */
  exits: ExitCredit[];
  /** undefined without exit records */
  exitRecords: { received: number; lost: number } | undefined;
}

/**
 * A live thread: what it added this cycle (the ThreadUpdate the grouper reads) and its last raw
 * values. One object per thread, as there can be tens of thousands.
 */
interface ThreadState extends ThreadUpdate {
  tid: number;
  startTime: number;
  /** <procfs>/<pid>/task/<tid>/stat, built once per thread */
  statPath: string;
  seen: number;
  lastUtime: number;
  lastStime: number;
  lastMinflt: number;
  lastMajflt: number;
  lastReadBytes: number;
  lastWriteBytes: number;
  lastVol: number;
  lastNonvol: number;
}

/** Four counters of the exited-children accounting, in ticks and faults. */
interface ChildCounters {
  user: number;
  system: number;
  minflt: number;
  majflt: number;
}

interface ProcState {
  pid: number;
  startTime: number;
  /** <procfs>/<pid>/{stat,status,io,fd,task}, built once per identity */
  statPath: string;
  statusPath: string;
  ioPath: string;
  fdPath: string;
  taskDir: string;
  ppid: number;
  comm: string;
  groupKey: string;
  group: GroupAssignment;
  attrs: LazyProcessAttributes;
  firstCycle: number;
  seen: number;
  stat: PidStat;
  // last seen raw values
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
  minflt: number;
  majflt: number;
  cminflt: number;
  cmajflt: number;
  readBytes: number;
  writeBytes: number;
  vol: number;
  nonvol: number;
  /** growth of c* fields minus the last seen totals of vanished children, cumulative */
  childNet: ChildCounters;
  /** high-water mark of childNet already credited: credit never goes back */
  childCredited: ChildCounters;
  /** last seen totals of children that vanished this cycle, to subtract */
  childVanished: ChildCounters;
  /** thread credit running ahead of process credit (seconds, <= 0), settled later */
  threadCarryUser: number;
  threadCarrySystem: number;
  /** threads read last cycle (a plain array: a Map per process costs ~1 KB at 20 threads) */
  threads: ThreadState[];
  /** unix seconds */
  startSeconds: number;
  /** its exit record was credited (cycle): no more credit; undefined while alive */
  closedAt: number | undefined;
  /** final own counters from its record, not yet taken as last seen (a live zombie until refresh) */
  final: ProcessDelta | undefined;
  /** its start and exit are counted by the walks (not when an exit record already counted them) */
  churn: boolean;
  /** cycle whose files (status, io, fd, threads) were read; set in the stat pass for known identities */
  filesRead: number;
  /** CPU of the live threads read this cycle (seconds) and how many, for the residual entry */
  threadUser: number;
  threadSystem: number;
  liveThreads: number;
  fdLimit: number | undefined;
  residual: ThreadUpdate;
  update: ProcessUpdate;
}

const zeroChild = (): ChildCounters => ({ user: 0, system: 0, minflt: 0, majflt: 0 });

/**
 * Yield to the event loop after this many ms of walking, so /health stays responsive; each
 * yield costs ~10 us, so a 500 ms walk spends ~1 ms on them.
 */
const YIELD_EVERY_MS = 4;

/**
 * Per-process state keyed by (pid, starttime). Each `update()` walks procfs once and returns, per
 * tracked process, what it added since the previous cycle. The first cycle sets the baseline.
 */
export class Tracker {
  private readonly reader: ProcReader;
  private readonly opts: TrackerOptions;
  private readonly procs = new Map<number, ProcState>();
  /** untracked identities: pid -> starttime; they cost one stat read per cycle */
  private ignored = new Map<number, number>();
  private cycle = 0;
  /** boot time of this cycle's /proc/stat, unix seconds */
  private bootTime = 0;
  private readonly userNames: UserNames;
  private lastYield = 0;
  private errors: TrackerErrors = { procReadErrors: 0, partialErrors: 0, byCause: new Map() };
  /** thread stats are used once and dropped: one object parsed into for all of them */
  private readonly threadStat = emptyPidStat();
  private readonly procStat = emptyPidStat();
  private readonly childCredit = zeroChild();
  private readonly exitAccounting = new ExitAccounting();
  /** processes credited whole from their records while no walk saw them: pid -> start seconds */
  private creditedUnseen = new Map<number, number>();

  constructor(opts: TrackerOptions) {
    this.opts = opts;
    this.reader = new ProcReader(opts.procfsRoot);
    this.userNames = new UserNames([`${this.reader.root}/1/root/etc/passwd`, '/etc/passwd']);
  }

  get trackedCount(): number {
    return this.procs.size;
  }

  get ignoredCount(): number {
    return this.ignored.size;
  }

  close(): void {
    this.opts.exitRecords?.close();
  }

  async update(): Promise<TrackerResult> {
    const cycle = ++this.cycle;
    this.errors = { procReadErrors: 0, partialErrors: 0, byCause: new Map() };
    this.lastYield = performance.now();
    const host = readProcStat(this.reader);
    this.bootTime = host.bootTime;
    const src: AttributeSources = {
      reader: this.reader,
      userNames: this.userNames,
      bootTime: host.bootTime,
      ticksPerSecond: TICKS_PER_SECOND,
      resolveContainer: this.opts.resolveContainer,
    };

    // 1. one stat read per pid: identity, parent, CPU. Parsed into one scratch object: a known
    // identity copies it into its own stat, an ignored one keeps nothing, so steady state
    // allocates nothing per process here.
    // 2. known identities, then new ones: match, else inherit a tracked ancestor's group
    const vanished: ProcState[] = [];
    const nextIgnored = new Map<number, number>();
    const fresh: PidStat[] = [];
    const scratch = this.procStat;
    for (const pid of await this.reader.listIdsAsync(this.reader.root)) {
      if (this.shouldYield()) await yieldToEventLoop();
      const st = this.procs.get(pid);
      scratch.comm = st?.comm ?? '';
      const stat = this.readStat(st?.statPath ?? `${this.reader.root}/${pid}/stat`, scratch);
      if (!stat) continue;
      if (st && st.startTime === stat.startTime) {
        st.seen = cycle;
        Object.assign(st.stat, stat);
        st.ppid = stat.ppid;
        // now, while the kernel's data for this process (and its threads) is still in the CPU
        // caches: reading every stat first and the other files in a second pass costs ~4% more
        // kernel time with threads (1500x20), ~11% without
        this.readFiles(st, cycle);
      } else if (!this.opts.recheck && this.ignored.get(stat.pid) === stat.startTime) {
        nextIgnored.set(stat.pid, stat.startTime);
      } else {
        fresh.push(Object.assign(emptyPidStat(), stat));
      }
    }
    if (this.opts.recheck) this.recheckTracked(src, cycle, nextIgnored);
    this.trackFresh(fresh, src, cycle, nextIgnored, vanished);
    this.ignored = nextIgnored;
    for (const st of this.procs.values()) {
      if (st.seen !== cycle) vanished.push(st);
    }
    const exits = this.opts.exitRecords ? this.creditExits(this.opts.exitRecords.drain(), vanished, cycle) : [];
    for (const v of vanished) {
      if (this.procs.get(v.pid) === v) this.procs.delete(v.pid);
      if (v.churn && cycle > 1) exits.push(churnEntry(v, 0, 1));
    }
    if (this.opts.children) this.attributeVanished(vanished, cycle);

    // 3. per tracked process: deltas and the files the enabled metric families need
    const updates: ProcessUpdate[] = [];
    for (const st of this.procs.values()) {
      if (this.shouldYield()) await yieldToEventLoop();
      updates.push(this.refresh(st, cycle));
      if (st.firstCycle === cycle && cycle > 1 && st.churn) exits.push(churnEntry(st, 1, 0));
    }
    const source = this.opts.exitRecords;
    const exitRecords = source ? { received: source.received, lost: source.lost } : undefined;
    return { cycle, updates, host, errors: this.errors, exits, exitRecords };
  }

  /**
   * Exit records of this cycle (drained after the listing) -> credits. Tracked processes closed by
   * their record take their final counters as last seen, so that a zombie's later reads and its
   * parent's cutime growth credit nothing more.
   */
  private creditExits(records: readonly ExitRecord[], vanished: readonly ProcState[], cycle: number): ExitCredit[] {
    const gone = new Map<number, ProcState>();
    for (const v of vanished) gone.set(v.pid, v);
    const stateOf = (pid: number): ProcState | undefined => {
      const st = this.procs.get(pid);
      return st && st.seen === cycle ? st : (gone.get(pid) ?? st);
    };
    const world: ExitWorld = {
      tracked: (pid) => {
        const st = stateOf(pid);
        return st ? trackedView(st, cycle) : undefined;
      },
      liveStart: (pid) => {
        const st = this.procs.get(pid);
        if (st?.seen === cycle) return st.startSeconds;
        const ticks = this.ignored.get(pid);
        return ticks === undefined ? undefined : this.bootTime + ticks / TICKS_PER_SECOND;
      },
      match: (p) => this.opts.matcher.match(p),
      groupKey: (g) => this.groupKey(g),
      userName: (uid) => this.userNames.name(uid),
      children: this.opts.children,
      subtractChild: (pid, c) => {
        const st = this.procs.get(pid);
        if (!st || st.seen !== cycle) return;
        st.childVanished.user += c.cpuUser * TICKS_PER_SECOND;
        st.childVanished.system += c.cpuSystem * TICKS_PER_SECOND;
        st.childVanished.minflt += c.minorFaults;
        st.childVanished.majflt += c.majorFaults;
      },
    };
    const result = this.exitAccounting.credit(records, world);
    for (const { pid, final } of result.closed) {
      const st = stateOf(pid);
      if (!st) continue;
      st.closedAt = cycle;
      st.final = final;
      if (st.seen !== cycle) takeFinal(st); // vanished: no refresh will run for it
    }
    // a process credited from its records may still be listed as a zombie: remember it while it is
    const unseen = new Map<number, number>();
    for (const [pid, start] of this.creditedUnseen) {
      const ticks = this.ignored.get(pid);
      const st = this.procs.get(pid);
      if ((st?.seen === cycle && st.startSeconds === start) || (ticks !== undefined && this.bootTime + ticks / TICKS_PER_SECOND === start)) unseen.set(pid, start);
    }
    for (const [pid, start] of result.creditedUnseen) unseen.set(pid, start);
    this.creditedUnseen = unseen;
    return result.credits;
  }

  private shouldYield(): boolean {
    const now = performance.now();
    if (now - this.lastYield < YIELD_EVERY_MS) return false;
    this.lastYield = now;
    return true;
  }

  private countError(kind: 'procRead' | 'partial', cause: string): void {
    if (kind === 'procRead') this.errors.procReadErrors++;
    else this.errors.partialErrors++;
    this.errors.byCause.set(cause, (this.errors.byCause.get(cause) ?? 0) + 1);
  }

  private readStat(path: string, into?: PidStat): PidStat | undefined {
    try {
      return readPidStat(this.reader, path, into);
    } catch (err) {
      if (err instanceof ProcReadError) this.countError('procRead', `stat:${err.errno}`);
      else if (err instanceof ParseError) this.countError('procRead', 'stat:parse');
      else throw err;
      return undefined;
    }
  }

  /** A thread's stat, parsed into the shared scratch object; `name` is its last known comm (kept if unchanged). */
  private readThreadStat(path: string, name: string): PidStat | undefined {
    this.threadStat.comm = name;
    return this.readStat(path, this.threadStat);
  }

  /**
   * Runs `read(arg)` for an optional file; a denied or broken read counts as a partial error.
   * The readers below are made once, so the hot path allocates no closure per read.
   */
  private partial<A, T>(file: string, read: (arg: A) => T, arg: A): T | undefined {
    try {
      return read(arg);
    } catch (err) {
      if (err instanceof ProcReadError) this.countError('partial', `${file}:${err.errno}`);
      else if (err instanceof ParseError) this.countError('partial', `${file}:parse`);
      else throw err;
      return undefined;
    }
  }

  private groupKey(a: GroupAssignment): string {
    let key = a.name;
    for (const label of this.opts.matcher.labelNames) key += `\u0001${a.labels[label] ?? ''}`;
    return key;
  }

  private readonly matchAttributes = (attrs: LazyProcessAttributes): GroupAssignment | undefined => this.opts.matcher.match(attrs);
  private readonly readStatus = (path: string): PidStatus | undefined => readPidStatus(this.reader, path);
  private readonly readIo = (path: string): PidIo | undefined => readPidIo(this.reader, path);
  private readonly countFds = (path: string): number => this.reader.countFds(path);
  private readonly readLimits = (path: string): PidLimits | undefined => readPidLimits(this.reader, path);
  private readonly readSmapsRollup = (path: string): PidSmapsRollup | undefined => readPidSmapsRollup(this.reader, path);
  private readonly listIds = (dir: string): number[] => this.reader.listIds(dir);

  private match(attrs: LazyProcessAttributes): GroupAssignment | undefined {
    return this.partial('match', this.matchAttributes, attrs);
  }

  private trackFresh(fresh: PidStat[], src: AttributeSources, cycle: number, nextIgnored: Map<number, number>, vanished: ProcState[]): void {
    const unmatched = new Map<number, { stat: PidStat; attrs: LazyProcessAttributes }>();
    for (const stat of fresh) {
      const attrs = new LazyProcessAttributes(stat, src);
      const assignment = this.match(attrs);
      if (assignment) this.track(stat, attrs, assignment, cycle, vanished);
      else unmatched.set(stat.pid, { stat, attrs });
    }
    // a new unmatched process joins its nearest tracked ancestor (parents resolved first, memoised)
    const resolved = new Map<number, ProcState | null>();
    const resolve = (pid: number): ProcState | null => {
      const entry = unmatched.get(pid);
      if (!entry) return null;
      const known = resolved.get(pid);
      if (known !== undefined) return known;
      resolved.set(pid, null); // guards against a ppid loop in inconsistent reads
      let target: ProcState | null = null;
      const parent = this.procs.get(entry.stat.ppid);
      if (parent && parent.seen === cycle && parent.startTime <= entry.stat.startTime) target = parent;
      else if (unmatched.has(entry.stat.ppid)) target = resolve(entry.stat.ppid);
      const st = target ? this.track(entry.stat, entry.attrs, target.group, cycle, vanished, target.pid) : null;
      resolved.set(pid, st);
      return st;
    };
    for (const [pid, entry] of unmatched) {
      if (!this.opts.children || !resolve(pid)) nextIgnored.set(pid, entry.stat.startTime);
    }
  }

  /** -recheck: re-read and re-match tracked processes; one that no longer matches is let go. */
  private recheckTracked(src: AttributeSources, cycle: number, nextIgnored: Map<number, number>): void {
    for (const st of [...this.procs.values()]) {
      if (st.seen !== cycle) continue;
      st.attrs = new LazyProcessAttributes(st.stat, src);
      let assignment = this.match(st.attrs);
      let inheritedFrom: number | undefined;
      if (!assignment && this.opts.children) {
        const parent = this.procs.get(st.ppid);
        if (parent && parent.seen === cycle && parent !== st) {
          assignment = parent.group;
          inheritedFrom = parent.pid;
        }
      }
      if (assignment) {
        st.group = assignment;
        st.update.member.rule = inheritedFrom === undefined ? assignment.rule : undefined;
        st.update.member.inheritedFrom = inheritedFrom;
        st.groupKey = this.groupKey(assignment);
        st.update.group = assignment;
        st.update.groupKey = st.groupKey;
      } else {
        this.procs.delete(st.pid);
        nextIgnored.set(st.pid, st.startTime);
      }
    }
  }

  /** `inheritedFrom`: the tracked parent whose group it joins, when no rule matched it */
  private track(stat: PidStat, attrs: LazyProcessAttributes, group: GroupAssignment, cycle: number, vanished: ProcState[], inheritedFrom?: number): ProcState {
    const previous = this.procs.get(stat.pid);
    if (previous && previous.seen !== cycle) vanished.push(previous); // pid reused
    const groupKey = this.groupKey(group);
    const dir = `${this.reader.root}/${stat.pid}`;
    const st: ProcState = {
      pid: stat.pid,
      startTime: stat.startTime,
      startSeconds: attrs.startTimeSeconds,
      closedAt: undefined,
      final: undefined,
      churn: true,
      statPath: `${dir}/stat`,
      statusPath: `${dir}/status`,
      ioPath: `${dir}/io`,
      fdPath: `${dir}/fd`,
      taskDir: `${dir}/task`,
      ppid: stat.ppid,
      comm: stat.comm,
      groupKey,
      group,
      attrs,
      firstCycle: cycle,
      seen: cycle,
      stat,
      utime: 0,
      stime: 0,
      cutime: 0,
      cstime: 0,
      minflt: 0,
      majflt: 0,
      cminflt: 0,
      cmajflt: 0,
      readBytes: 0,
      writeBytes: 0,
      vol: 0,
      nonvol: 0,
      childNet: zeroChild(),
      childCredited: zeroChild(),
      childVanished: zeroChild(),
      threadCarryUser: 0,
      threadCarrySystem: 0,
      threads: [],
      filesRead: 0,
      threadUser: 0,
      threadSystem: 0,
      liveThreads: 0,
      fdLimit: undefined,
      residual: zeroThreadUpdate(stat.comm, 0),
      update: {
        groupKey,
        group,
        member: newProcessMember({
          pid: stat.pid, ppid: stat.ppid, startTime: stat.startTime, comm: stat.comm, numThreads: stat.numThreads,
          rule: inheritedFrom === undefined ? group.rule : undefined, inheritedFrom,
        }),
        delta: zeroDelta(),
        residentBytes: 0,
        virtualBytes: 0,
        swappedBytes: 0,
        pssBytes: undefined,
        swapPssBytes: undefined,
        openFds: -1,
        fdLimit: Infinity,
        numThreads: 0,
        state: stat.state,
        startTimeSeconds: attrs.startTimeSeconds,
        threads: [],
      },
    };
    const credited = this.creditedUnseen.get(stat.pid);
    if (credited !== undefined && Math.abs(credited - st.startSeconds) <= START_SLACK_SECONDS) {
      // a zombie whose record already credited it whole, start and exit included
      st.closedAt = cycle - 1;
      st.churn = false;
      this.creditedUnseen.set(stat.pid, st.startSeconds);
    }
    this.procs.set(stat.pid, st);
    return st;
  }

  /**
   * A vanished child's CPU shows up in its parent's cutime/cstime once reaped. What we already
   * counted for it (its last seen totals) is subtracted from the growth of the nearest live
   * ancestor, walking through ancestors that vanished in the same cycle.
   */
  private attributeVanished(vanished: ProcState[], cycle: number): void {
    const byPid = new Map<number, ProcState>();
    for (const v of vanished) byPid.set(v.pid, v);
    for (const v of vanished) {
      let ancestorPid = v.ppid;
      for (let depth = 0; depth < 256; depth++) {
        const live = this.procs.get(ancestorPid);
        if (live && live.seen === cycle && live.startTime <= v.startTime && live.firstCycle < cycle) {
          live.childVanished.user += v.utime + v.cutime;
          live.childVanished.system += v.stime + v.cstime;
          live.childVanished.minflt += v.minflt + v.cminflt;
          live.childVanished.majflt += v.majflt + v.cmajflt;
          break;
        }
        const gone = byPid.get(ancestorPid);
        if (!gone || gone.startTime > v.startTime) break;
        ancestorPid = gone.ppid;
      }
    }
  }

  /**
   * Reads what the enabled metric families need besides stat (status, io, fd count, limits once,
   * smaps_rollup when asked, threads) and computes their increments; nothing here depends on the
   * rest of the cycle. CPU and faults are settled in refresh(), once vanished children are known.
   */
  private readFiles(st: ProcState, cycle: number): void {
    st.filesRead = cycle;
    const { stat } = st;
    const u = st.update;
    const d = u.delta;
    const isNew = st.firstCycle === cycle;
    const credit = creditsIn(st, cycle);

    const status = this.partial('status', this.readStatus, st.statusPath);
    if (status) {
      d.voluntaryCtxSwitches = increment(credit, isNew, status.voluntaryCtxSwitches, st.vol);
      d.nonvoluntaryCtxSwitches = increment(credit, isNew, status.nonvoluntaryCtxSwitches, st.nonvol);
      st.vol = status.voluntaryCtxSwitches;
      st.nonvol = status.nonvoluntaryCtxSwitches;
      u.swappedBytes = status.vmSwapBytes;
    } else {
      d.voluntaryCtxSwitches = 0;
      d.nonvoluntaryCtxSwitches = 0;
    }
    const io = this.partial('io', this.readIo, st.ioPath);
    if (io) {
      d.readBytes = increment(credit, isNew, io.readBytes, st.readBytes);
      d.writeBytes = increment(credit, isNew, io.writeBytes, st.writeBytes);
      st.readBytes = io.readBytes;
      st.writeBytes = io.writeBytes;
    } else {
      d.readBytes = 0;
      d.writeBytes = 0;
    }
    const fds = this.partial('fd', this.countFds, st.fdPath);
    u.openFds = fds === undefined || fds === GONE ? -1 : fds;
    if (st.fdLimit === undefined || this.opts.recheck) {
      st.fdLimit = this.partial('limits', this.readLimits, `${this.reader.root}/${st.pid}/limits`)?.openFilesSoft ?? Infinity;
    }
    u.fdLimit = st.fdLimit;
    if (this.opts.gatherSmaps) {
      const smaps = this.partial('smaps_rollup', this.readSmapsRollup, `${this.reader.root}/${st.pid}/smaps_rollup`);
      u.pssBytes = smaps?.pssBytes;
      u.swapPssBytes = smaps?.swapPssBytes;
    }
    u.residentBytes = stat.rss * this.opts.pageSize;
    u.virtualBytes = stat.vsize;
    u.numThreads = stat.numThreads;
    u.state = stat.state;
    const member = u.member;
    member.numThreads = stat.numThreads;
    member.comm = stat.comm;
    member.ppid = stat.ppid;
    member.residentBytes = u.residentBytes;
    member.cgroupPath = st.attrs.knownCgroupPath();
    member.container = st.attrs.knownContainer();
    st.comm = stat.comm;
    if (this.threadsFor(st)) this.readThreads(st, cycle, credit);
    else if (u.threads.length !== 0) u.threads.length = 0; // -recheck moved it to a group without threads
  }

  private threadsFor(st: ProcState): boolean {
    return st.group.threads ?? this.opts.threads;
  }

  private refresh(st: ProcState, cycle: number): ProcessUpdate {
    if (st.filesRead !== cycle) this.readFiles(st, cycle); // identities new this cycle
    const { stat } = st;
    const u = st.update;
    const d = u.delta;
    const isNew = st.firstCycle === cycle;
    const credit = creditsIn(st, cycle);

    let userTicks = 0;
    let systemTicks = 0;
    let minflt = 0;
    let majflt = 0;
    if (isNew) {
      if (credit) {
        // with exit records, children reaped before we saw it were credited from their records
        const children = this.opts.exitRecords ? 0 : 1;
        userTicks = stat.utime + children * stat.cutime;
        systemTicks = stat.stime + children * stat.cstime;
        minflt = stat.minflt + children * stat.cminflt;
        majflt = stat.majflt + children * stat.cmajflt;
      }
    } else if (credit) {
      userTicks = Math.max(0, stat.utime - st.utime);
      systemTicks = Math.max(0, stat.stime - st.stime);
      minflt = Math.max(0, stat.minflt - st.minflt);
      majflt = Math.max(0, stat.majflt - st.majflt);
      if (this.opts.children) {
        const c = this.creditChildren(st);
        userTicks += c.user;
        systemTicks += c.system;
        minflt += c.minflt;
        majflt += c.majflt;
      }
    }
    d.cpuUser = userTicks / TICKS_PER_SECOND;
    d.cpuSystem = systemTicks / TICKS_PER_SECOND;
    u.member.cpuUser = d.cpuUser;
    u.member.cpuSystem = d.cpuSystem;
    d.minorFaults = minflt;
    d.majorFaults = majflt;
    st.utime = stat.utime;
    st.stime = stat.stime;
    st.cutime = stat.cutime;
    st.cstime = stat.cstime;
    st.minflt = stat.minflt;
    st.majflt = stat.majflt;
    st.cminflt = stat.cminflt;
    st.cmajflt = stat.cmajflt;
    if (st.final) takeFinal(st);
    if (this.threadsFor(st)) this.creditThreadResidual(st);
    return u;
  }

  /**
   * Credit for CPU and faults of children reaped since the last cycle that we had not counted.
   * Returned in an object reused on every call (read it before the next).
   */
  private creditChildren(st: ProcState): ChildCounters {
    const { stat, childNet: net, childCredited: done, childVanished: gone } = st;
    net.user += Math.max(0, stat.cutime - st.cutime) - gone.user;
    net.system += Math.max(0, stat.cstime - st.cstime) - gone.system;
    net.minflt += Math.max(0, stat.cminflt - st.cminflt) - gone.minflt;
    net.majflt += Math.max(0, stat.cmajflt - st.cmajflt) - gone.majflt;
    gone.user = 0;
    gone.system = 0;
    gone.minflt = 0;
    gone.majflt = 0;
    const credit = this.childCredit;
    credit.user = Math.max(0, net.user - done.user);
    credit.system = Math.max(0, net.system - done.system);
    credit.minflt = Math.max(0, net.minflt - done.minflt);
    credit.majflt = Math.max(0, net.majflt - done.majflt);
    done.user += credit.user;
    done.system += credit.system;
    done.minflt += credit.minflt;
    done.majflt += credit.majflt;
    return credit;
  }

  /** Reads the process's threads and their increments into update.threads[0..liveThreads). */
  private readThreads(st: ProcState, cycle: number, credit: boolean): void {
    // `out` is rewritten in place and trimmed once the residual entry is settled: truncating it
    // first (length = 0) is a runtime call per process per cycle
    const out = st.update.threads;
    const known = st.threads;
    let n = 0;
    let threadUser = 0;
    let threadSystem = 0;
    const { stat } = st;
    const details = this.opts.threadDetails;
    if (stat.numThreads <= 1 && !details) {
      // the process is its own only thread: no task/ reads
      const main = known.length === 1 && known[0]?.tid === stat.pid ? known[0] : known.find((t) => t.tid === stat.pid);
      const t = this.threadDelta(st, main, stat.pid, stat, cycle, credit, undefined);
      threadUser += t.cpuUser;
      threadSystem += t.cpuSystem;
      out[n++] = t;
      if (known.length !== 1 || known[0] !== t) st.threads = [t];
    } else {
      const taskDir = st.taskDir;
      // task/ is listed only when the thread set may have changed. The same count as last cycle
      // with every known thread still there (same start time) is the same set; a thread started
      // after the count was read is found next cycle, like one started after a listing.
      let listed = known.length !== stat.numThreads;
      let failedTid = -1;
      if (!listed) {
        for (const ts of known) {
          const tstat = this.readThreadStat(ts.statPath, ts.name);
          if (!tstat || tstat.startTime !== ts.startTime) {
            if (!tstat) failedTid = ts.tid; // gone, or an error already counted: not read again
            listed = true;
            break;
          }
          const t = this.threadDelta(st, ts, ts.tid, tstat, cycle, credit, details ? `${taskDir}/${ts.tid}` : undefined);
          threadUser += t.cpuUser;
          threadSystem += t.cpuSystem;
          out[n++] = t;
        }
      }
      if (listed) {
        // threads already read above stay; the listing adds the others
        const next: ThreadState[] = known.filter((t) => t.seen === cycle);
        const byTid = new Map<number, ThreadState>();
        for (const t of known) byTid.set(t.tid, t);
        const tids = this.partial('task', this.listIds, taskDir) ?? [];
        for (const tid of tids) {
          const prev = byTid.get(tid);
          if (prev?.seen === cycle || tid === failedTid) continue;
          const tstat = this.readThreadStat(prev?.statPath ?? `${taskDir}/${tid}/stat`, prev?.name ?? '');
          if (!tstat) continue;
          const t = this.threadDelta(st, prev, tid, tstat, cycle, credit, details ? `${taskDir}/${tid}` : undefined);
          threadUser += t.cpuUser;
          threadSystem += t.cpuSystem;
          out[n++] = t;
          next.push(t);
        }
        st.threads = next;
      }
    }
    st.threadUser = threadUser;
    st.threadSystem = threadSystem;
    st.liveThreads = n;
  }

  /**
   * CPU of threads that exited and of reaped children: credited under the main thread's name,
   * so that per group the thread CPU sums to the process CPU.
   */
  private creditThreadResidual(st: ProcState): void {
    const out = st.update.threads;
    let n = st.liveThreads;
    const d = st.update.delta;
    const restUser = d.cpuUser - st.threadUser + st.threadCarryUser;
    const restSystem = d.cpuSystem - st.threadSystem + st.threadCarrySystem;
    st.threadCarryUser = Math.min(0, restUser);
    st.threadCarrySystem = Math.min(0, restSystem);
    if (restUser > 0 || restSystem > 0) {
      const r = st.residual;
      r.name = st.comm;
      r.cpuUser = Math.max(0, restUser);
      r.cpuSystem = Math.max(0, restSystem);
      out[n++] = r;
    }
    if (out.length !== n) out.length = n;
  }

  /** Updates `prev` (or a new state when the tid is new or reused) with the thread's stat; returns it. */
  private threadDelta(st: ProcState, prev: ThreadState | undefined, tid: number, tstat: PidStat, cycle: number, credit: boolean, detailDir: string | undefined): ThreadState {
    const isNew = !prev || prev.startTime !== tstat.startTime;
    const ts = !prev || isNew ? this.newThread(st, prev, tid, tstat) : prev;
    ts.seen = cycle;
    ts.name = tstat.comm;
    const counts = credit || !isNew;
    ts.cpuUser = counts ? Math.max(0, tstat.utime - ts.lastUtime) / TICKS_PER_SECOND : 0;
    ts.cpuSystem = counts ? Math.max(0, tstat.stime - ts.lastStime) / TICKS_PER_SECOND : 0;
    ts.minorFaults = counts ? Math.max(0, tstat.minflt - ts.lastMinflt) : 0;
    ts.majorFaults = counts ? Math.max(0, tstat.majflt - ts.lastMajflt) : 0;
    ts.lastUtime = tstat.utime;
    ts.lastStime = tstat.stime;
    ts.lastMinflt = tstat.minflt;
    ts.lastMajflt = tstat.majflt;
    if (detailDir !== undefined) {
      const io = this.partial('task_io', this.readIo, `${detailDir}/io`);
      if (io) {
        ts.readBytes = counts ? Math.max(0, io.readBytes - ts.lastReadBytes) : 0;
        ts.writeBytes = counts ? Math.max(0, io.writeBytes - ts.lastWriteBytes) : 0;
        ts.lastReadBytes = io.readBytes;
        ts.lastWriteBytes = io.writeBytes;
      }
      const status = this.partial('task_status', this.readStatus, `${detailDir}/status`);
      if (status) {
        ts.voluntaryCtxSwitches = counts ? Math.max(0, status.voluntaryCtxSwitches - ts.lastVol) : 0;
        ts.nonvoluntaryCtxSwitches = counts ? Math.max(0, status.nonvoluntaryCtxSwitches - ts.lastNonvol) : 0;
        ts.lastVol = status.voluntaryCtxSwitches;
        ts.lastNonvol = status.nonvoluntaryCtxSwitches;
      }
    }
    return ts;
  }

  private newThread(st: ProcState, prev: ThreadState | undefined, tid: number, tstat: PidStat): ThreadState {
    // join() gives a flat string; a template literal leaves a cons string behind once flattened
    const statPath = prev?.statPath ?? [this.reader.root, '/', st.pid, '/task/', tid, '/stat'].join('');
    // one literal with every field (no spread): all thread states share one hidden class
    return {
      name: tstat.comm,
      alive: 1,
      cpuUser: 0,
      cpuSystem: 0,
      minorFaults: 0,
      majorFaults: 0,
      readBytes: 0,
      writeBytes: 0,
      voluntaryCtxSwitches: 0,
      nonvoluntaryCtxSwitches: 0,
      tid,
      startTime: tstat.startTime,
      statPath,
      seen: 0,
      lastUtime: 0,
      lastStime: 0,
      lastMinflt: 0,
      lastMajflt: 0,
      lastReadBytes: 0,
      lastWriteBytes: 0,
      lastVol: 0,
      lastNonvol: 0,
    };
  }
}

/** First cycle = baseline; later newcomers are credited fully; a process closed by its exit record in an earlier cycle gets nothing more. */
function creditsIn(st: ProcState, cycle: number): boolean {
  if (st.closedAt !== undefined && st.closedAt < cycle) return false;
  return st.firstCycle !== cycle || cycle > 1;
}

/** The exit accounting's view of a tracked process: its counters as far as this cycle credits them. */
function trackedView(st: ProcState, cycle: number): TrackedView {
  const { stat } = st;
  // a newcomer's io and status are read after the exit accounting: its tail there is left to them
  const filesKnown = st.seen !== cycle || st.filesRead === cycle;
  const file = (v: number): number => (filesKnown ? v : Infinity);
  return {
    startSeconds: st.startSeconds,
    ppid: st.ppid,
    groupKey: st.groupKey,
    group: st.group,
    live: st.seen === cycle,
    closed: st.closedAt !== undefined,
    seen: {
      cpuUser: stat.utime / TICKS_PER_SECOND,
      cpuSystem: stat.stime / TICKS_PER_SECOND,
      minorFaults: stat.minflt,
      majorFaults: stat.majflt,
      readBytes: file(st.readBytes),
      writeBytes: file(st.writeBytes),
      voluntaryCtxSwitches: file(st.vol),
      nonvoluntaryCtxSwitches: file(st.nonvol),
    },
  };
}

/** Its record's final counters become its last seen values (what its parent's cutime holds of it). */
function takeFinal(st: ProcState): void {
  const f = st.final;
  if (!f) return;
  st.utime = Math.max(st.utime, f.cpuUser * TICKS_PER_SECOND);
  st.stime = Math.max(st.stime, f.cpuSystem * TICKS_PER_SECOND);
  st.minflt = Math.max(st.minflt, f.minorFaults);
  st.majflt = Math.max(st.majflt, f.majorFaults);
  st.readBytes = Math.max(st.readBytes, f.readBytes);
  st.writeBytes = Math.max(st.writeBytes, f.writeBytes);
  st.vol = Math.max(st.vol, f.voluntaryCtxSwitches);
  st.nonvol = Math.max(st.nonvol, f.nonvoluntaryCtxSwitches);
  st.final = undefined;
}

/** A process start or exit seen by the walks, counted for its group. */
function churnEntry(st: ProcState, started: number, exited: number): ExitCredit {
  return { groupKey: st.groupKey, group: st.group, threadName: '', delta: zeroDelta(), delays: undefined, started, exited };
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** A counter's increment: nothing at the baseline, all of it for a newcomer, never negative. */
function increment(credit: boolean, isNew: boolean, now: number, last: number): number {
  return credit ? Math.max(0, now - (isNew ? 0 : last)) : 0;
}
