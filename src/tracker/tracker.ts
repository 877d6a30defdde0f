import { performance } from 'node:perf_hooks';
import type { GroupAssignment, ProcessMatcher } from '../config/attributes.js';
import { COUNTERS, emptyTaskCounters, type TaskRef } from '../host/counter-source.js';
import type { Host, ProcessFiles, ThreadFiles } from '../host/host.js';
import type { LazyProcessAttributes } from '../host/process-attributes.js';
import type { ReadErrors } from '../host/read-errors.js';
import { emptyPidStat, type PidStat, TICKS_PER_SECOND } from '../procfs/pid-stat.js';
import type { ProcStat } from '../procfs/proc-stat.js';
import { type ExitCredit, type ExitRecord, type ExitWorld, ExitAccounting, START_SLACK_SECONDS, type TrackedView } from './exit-credit.js';
import { attributeVanished, type ChildAccount, type ChildSample, creditChildren, newChildAccount, zeroChildCounters } from './children.js';
import { BASELINE, increment, KNOWN, NEWCOMER, phaseOf, type Phase } from './delta.js';
import { creditThreadResidual, readThreads, type ThreadOwner, type ThreadSource } from './threads.js';
import { newProcessMember, type ProcessDelta, type ProcessUpdate, zeroDelta, zeroThreadUpdate } from './updates.js';

export { TICKS_PER_SECOND };

export interface TrackerOptions {
  /** where processes are read from; the tracker opens no file itself */
  host: Host;
  matcher: ProcessMatcher;
  /** unmatched descendants join the nearest tracked ancestor's group (process-exporter -children) */
  children: boolean;
  /** per-thread metrics (process-exporter -threads) for groups whose rule does not say (`threads:`) */
  threads: boolean;
  /** per-thread io (thread_io_bytes_total): one more file per thread; a multi-threaded process's threads' status is read anyway (context switches) */
  threadDetails: boolean;
  /**
   * each live thread's state letter is counted (process-exporter's `states`): read from the
   * thread's stat file even when the counter source has the rest of it
   */
  threadStates?: boolean;
  /** read each process's and (multi-threaded) each thread's wchan (-collector.wchan) */
  wchan?: boolean;
  /** proportional memory from smaps_rollup (process-exporter -gather-smaps) */
  gatherSmaps: boolean;
  /** re-read static data and re-match every process each cycle (process-exporter -recheck) */
  recheck: boolean;
  pageSize: number;
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
  /** the kernel keeps block I/O, swap-in and reclaim delays (kernel.task_delayacct) */
  readonly delayAccounting: boolean;
  close(): void;
}

export interface TrackerResult {
  cycle: number;
  updates: ProcessUpdate[];
  host: ProcStat;
  /** read failures of this cycle, by file and errno */
  errors: ReadErrors;
  /** exited tasks' credits and process starts/exits, per group */
  exits: ExitCredit[];
  /** undefined without exit records */
  exitRecords: { received: number; lost: number; delayAccounting: boolean } | undefined;
}

/**
 * A tracked process: its last seen stat totals (ChildSample), its threads (ThreadOwner) and the
 * rest of what the tracker keeps per identity.
 */
interface ProcState extends ChildSample, ThreadOwner<ThreadFiles, ProcessFiles> {
  startTime: number;
  ppid: number;
  groupKey: string;
  group: GroupAssignment;
  attrs: LazyProcessAttributes;
  firstCycle: number;
  seen: number;
  // last seen raw values besides stat's (ChildSample)
  readBytes: number;
  writeBytes: number;
  vol: number;
  nonvol: number;
  /** the source's sum over all threads (COUNTERS.wholeProcessCtxSwitches), and the cycle it was last read in */
  wholeVol: number;
  wholeNonvol: number;
  wholeCtxRead: number;
  /** CPU to the microsecond from the counter source (COUNTERS.cpu), and the cycle it was last read in */
  userUs: number;
  systemUs: number;
  cpuUsRead: number;
  /** the cycle before: the delta is taken in microseconds only when both were read */
  lastUserUs: number;
  lastSystemUs: number;
  lastCpuUsRead: number;
  children: ChildAccount;
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
  fdLimit: number | undefined;
  update: ProcessUpdate;
}

/** the counters a tracked process needs besides stat; cpu (microseconds) only where a binary source fills it */
const PROCESS_COUNTERS = COUNTERS.ctxSwitches | COUNTERS.io | COUNTERS.swap | COUNTERS.cpu;

/**
 * A tracked process's limits (the fd limit of worst_fd_ratio) are read when it is first seen and
 * then every this many cycles (process-exporter reads them every scrape): at a 15 s scrape
 * interval a changed limit shows within 2 minutes, for 1/8 of the reads.
 */
const LIMITS_EVERY_CYCLES = 8;

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
  private readonly host: Host;
  private readonly opts: TrackerOptions;
  private readonly procs = new Map<number, ProcState>();
  /** untracked identities: pid -> starttime; they cost one stat read per cycle */
  private ignored = new Map<number, number>();
  private cycle = 0;
  /** boot-relative time (ticks) of the first cycle: a newcomer that started after it is credited whole */
  private firstCycleTicks = Infinity;
  /** boot time of this cycle's /proc/stat, unix seconds */
  private bootTime = 0;
  private lastYield = 0;
  /** thread stats are used once and dropped: one object parsed into for all of them */
  private readonly threadStat = emptyPidStat();
  private readonly procStat = emptyPidStat();
  private readonly childCredit = zeroChildCounters();
  /** counters of the process (or thread) being read; copied out at once */
  private readonly counters = emptyTaskCounters();
  /** the tasks handed to the counter source's prefetch, reused every cycle */
  private readonly prefetchTasks: TaskRef[] = [];
  private readonly threadSource: ThreadSource<ThreadFiles, ProcessFiles>;
  private readonly exitAccounting = new ExitAccounting();
  /** processes credited whole from their records while no walk saw them: pid -> start seconds */
  private creditedUnseen = new Map<number, number>();

  constructor(opts: TrackerOptions) {
    this.opts = opts;
    this.host = opts.host;
    const host = opts.host;
    const threadStat = this.threadStat;
    this.threadSource = {
      ref: (pid, tid) => host.thread(pid, tid),
      stat: (ref, name) => {
        threadStat.comm = name;
        // a thread's state letter is only in its stat file: read it when the states family counts threads
        return opts.threadStates ? host.readStat(ref.statPath, threadStat) : host.readThreadStat(ref, threadStat);
      },
      list: (files) => host.listThreads(files),
      counters: (ref, want, into) => host.readCounters(ref, want, into),
      wchan: (ref) => host.readWchan(ref),
    };
  }

  get trackedCount(): number {
    return this.procs.size;
  }

  get ignoredCount(): number {
    return this.ignored.size;
  }

  close(): void {
    this.opts.exitRecords?.close();
    // the files the host holds open for this tracker's walks
    this.host.close();
  }

  async update(): Promise<TrackerResult> {
    const cycle = ++this.cycle;
    const { host } = this;
    this.lastYield = performance.now();
    const hostStat = host.beginCycle();
    this.bootTime = hostStat.bootTime;
    this.prefetch();
    if (cycle === 1) this.firstCycleTicks = host.ticksSinceBoot(hostStat);

    // 1. one stat read per pid: identity, parent, CPU. Parsed into one scratch object: a known
    // identity copies it into its own stat, an ignored one keeps nothing, so steady state
    // allocates nothing per process here.
    // 2. known identities, then new ones: match, else inherit a tracked ancestor's group
    const vanished: ProcState[] = [];
    const nextIgnored = new Map<number, number>();
    const fresh: PidStat[] = [];
    const scratch = this.procStat;
    for (const pid of await host.listPids()) {
      if (this.shouldYield()) await yieldToEventLoop();
      const st = this.procs.get(pid);
      scratch.comm = st?.comm ?? '';
      const stat = host.readProcessStat(st?.files.statPath ?? host.statPath(pid), scratch);
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
    if (this.opts.recheck) this.recheckTracked(cycle, nextIgnored);
    this.trackFresh(fresh, cycle, nextIgnored, vanished);
    this.ignored = nextIgnored;
    for (const st of this.procs.values()) {
      if (st.seen !== cycle) vanished.push(st);
    }
    const exits = this.opts.exitRecords ? this.creditExits(this.opts.exitRecords.drain(), vanished, cycle) : [];
    for (const v of vanished) {
      if (this.procs.get(v.pid) === v) this.procs.delete(v.pid);
      if (v.churn && cycle > 1) exits.push(churnEntry(v, 0, 1));
    }
    if (this.opts.children) {
      attributeVanished(vanished, (pid) => {
        const live = this.procs.get(pid);
        return live && live.seen === cycle && live.firstCycle < cycle ? live : undefined;
      });
    }

    // 3. per tracked process: deltas and the files the enabled metric families need
    const updates: ProcessUpdate[] = [];
    for (const st of this.procs.values()) {
      if (this.shouldYield()) await yieldToEventLoop();
      updates.push(this.refresh(st, cycle));
      if (st.firstCycle === cycle && cycle > 1 && st.churn) exits.push(churnEntry(st, 1, 0));
    }
    const source = this.opts.exitRecords;
    const exitRecords = source ? { received: source.received, lost: source.lost, delayAccounting: source.delayAccounting } : undefined;
    return { cycle, updates, host: hostStat, errors: host.errors, exits, exitRecords };
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
      userName: (uid) => this.host.userName(uid),
      children: this.opts.children,
      subtractChild: (pid, c) => {
        const st = this.procs.get(pid);
        if (!st || st.seen !== cycle) return;
        const gone = st.children.vanished;
        gone.user += c.cpuUser * TICKS_PER_SECOND;
        gone.system += c.cpuSystem * TICKS_PER_SECOND;
        gone.minflt += c.minorFaults;
        gone.majflt += c.majorFaults;
        gone.readBytes += c.readBytes;
        gone.writeBytes += c.writeBytes;
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

  private groupKey(a: GroupAssignment): string {
    let key = a.name;
    for (const label of this.opts.matcher.labelNames) key += `\u0001${a.labels[label] ?? ''}`;
    return key;
  }

  /** The first rule matching the process; a static file that cannot be read counts as a partial error. */
  private match(attrs: LazyProcessAttributes): GroupAssignment | undefined {
    try {
      return this.opts.matcher.match(attrs);
    } catch (err) {
      this.host.partialFailure('match', err);
      return undefined;
    }
  }

  private trackFresh(fresh: PidStat[], cycle: number, nextIgnored: Map<number, number>, vanished: ProcState[]): void {
    const unmatched = new Map<number, { stat: PidStat; attrs: LazyProcessAttributes }>();
    for (const stat of fresh) {
      const attrs = this.host.attributes(stat);
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
  private recheckTracked(cycle: number, nextIgnored: Map<number, number>): void {
    for (const st of [...this.procs.values()]) {
      if (st.seen !== cycle) continue;
      st.attrs = this.host.attributes(st.stat);
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
    const st: ProcState = {
      pid: stat.pid,
      startTime: stat.startTime,
      startSeconds: attrs.startTimeSeconds,
      closedAt: undefined,
      final: undefined,
      churn: true,
      files: this.host.process(stat.pid),
      ppid: stat.ppid,
      comm: stat.comm,
      groupKey,
      group,
      attrs,
      firstCycle: cycle,
      seen: cycle,
      stat,
      userUs: 0,
      systemUs: 0,
      cpuUsRead: 0,
      lastUserUs: 0,
      lastSystemUs: 0,
      lastCpuUsRead: 0,
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
      wholeVol: 0,
      wholeNonvol: 0,
      wholeCtxRead: 0,
      children: newChildAccount(),
      threadCarryUser: 0,
      threadCarrySystem: 0,
      threads: [],
      filesRead: 0,
      threadUser: 0,
      threadSystem: 0,
      liveThreads: 0,
      own: { counters: emptyTaskCounters(), read: 0, wchan: '' },
      threadVol: 0,
      threadNonvol: 0,
      threadVolTotal: 0,
      threadNonvolTotal: 0,
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
        wchan: '',
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
   * Reads what the enabled metric families need besides stat (status, io, fd count, limits once,
   * smaps_rollup when asked, threads) and computes their increments; nothing here depends on the
   * rest of the cycle. CPU and faults are settled in refresh(), once vanished children are known.
   */
  private readFiles(st: ProcState, cycle: number): void {
    st.filesRead = cycle;
    const { stat, files } = st;
    const { host } = this;
    const u = st.update;
    const d = u.delta;
    const phase = phaseIn(st, cycle, this.firstCycleTicks);

    const c = st.own.counters;
    const whole = this.wholeCtxSwitches(st);
    const read = host.readCounters(files, PROCESS_COUNTERS | (whole ? COUNTERS.wholeProcessCtxSwitches : 0), c);
    st.own.read = read;
    if (read & COUNTERS.swap) u.swappedBytes = c.swappedBytes;
    if (read & COUNTERS.cpu) {
      st.userUs = c.cpuUserUs;
      st.systemUs = c.cpuSystemUs;
      st.cpuUsRead = cycle;
    }
    if (read & COUNTERS.io) {
      d.readBytes = increment(phase, c.readBytes, st.readBytes);
      d.writeBytes = increment(phase, c.writeBytes, st.writeBytes);
      st.readBytes = c.readBytes;
      st.writeBytes = c.writeBytes;
    } else {
      d.readBytes = 0;
      d.writeBytes = 0;
    }
    u.openFds = host.countFds(files);
    // a process may raise its limit after it started (Go's runtime does at init, daemons after
    // parsing their config; prlimit at any time): re-read now and then, staggered by pid
    if (st.fdLimit === undefined || this.opts.recheck || (cycle + st.pid) % LIMITS_EVERY_CYCLES === 0) {
      st.fdLimit = host.readLimits(files)?.openFilesSoft ?? Infinity;
    }
    u.fdLimit = st.fdLimit;
    if (this.opts.gatherSmaps) {
      const smaps = host.readSmapsRollup(files);
      u.pssBytes = smaps?.pssBytes;
      u.swapPssBytes = smaps?.swapPssBytes;
    }
    u.residentBytes = stat.rss * this.opts.pageSize;
    u.virtualBytes = stat.vsize;
    u.numThreads = stat.numThreads;
    u.state = stat.state;
    u.wchan = this.opts.wchan ? (host.readWchan(files) ?? '') : '';
    st.own.wchan = u.wchan;
    const member = u.member;
    member.numThreads = stat.numThreads;
    member.comm = stat.comm;
    member.ppid = stat.ppid;
    member.residentBytes = u.residentBytes;
    member.cgroupPath = st.attrs.knownCgroupPath();
    member.container = st.attrs.knownContainer();
    st.comm = stat.comm;
    if (whole) {
      creditWholeCtxSwitches(st, cycle, phase, read);
      if (st.threads.length !== 0) st.threads = [];
      if (u.threads.length !== 0) u.threads.length = 0;
      return;
    }
    // status counts the leader's context switches only: a process's are the sum over its threads
    // (task/<tid>/status when it has more than one), whatever -threads says, as process-exporter
    // does; a thread that exits keeps what it had. Threads left unread last cycle (the source's
    // sum served) count from here on.
    const threadPhase = phase === KNOWN && st.wholeCtxRead === cycle - 1 ? BASELINE : phase;
    readThreads(st, this.threadSource, cycle, threadPhase, this.counters, { details: this.opts.threadDetails, wchan: this.opts.wchan === true });
    d.voluntaryCtxSwitches = st.threadVol;
    d.nonvoluntaryCtxSwitches = st.threadNonvol;
    // credited so far: the base an exit record's final count is taken against
    st.vol = phase === KNOWN ? st.vol + st.threadVol : st.threadVolTotal;
    st.nonvol = phase === KNOWN ? st.nonvol + st.threadNonvol : st.threadNonvolTotal;
    // thread entries feed the thread families, and the wchans of a multi-threaded process
    // (-recheck may have moved it to a group without threads)
    const keepThreads = this.threadsFor(st) || (this.opts.wchan === true && stat.numThreads > 1);
    if (!keepThreads && u.threads.length !== 0) u.threads.length = 0;
  }

  /**
   * Lets a binary counter source ask for the counters of every process and thread known from the
   * last cycle in one batch; processes and threads new this cycle are asked alone when read.
   */
  private prefetch(): void {
    if (!this.host.prefetches) return;
    const tasks = this.prefetchTasks;
    tasks.length = 0;
    for (const st of this.procs.values()) {
      tasks.push(st.files);
      // a multi-threaded process's threads are read (their context switches make its count); a
      // single-threaded one's thread is the process itself
      if (st.stat.numThreads > 1) for (const t of st.threads) tasks.push(t.ref);
    }
    this.host.prefetchCounters(tasks, PROCESS_COUNTERS | COUNTERS.ctxSwitches | (this.opts.threadDetails ? COUNTERS.io : 0));
  }

  /**
   * Whether the process's context switches come from the source's sum over its threads (taskstats:
   * one TGID query, exited threads included) instead of reading each thread: when no thread family
   * and no thread wchan needs the threads.
   */
  private wholeCtxSwitches(st: ProcState): boolean {
    return !this.threadsFor(st) && this.opts.wchan !== true && this.host.sourceCovers(COUNTERS.wholeProcessCtxSwitches);
  }

  private threadsFor(st: ProcState): boolean {
    return st.group.threads ?? this.opts.threads;
  }

  private refresh(st: ProcState, cycle: number): ProcessUpdate {
    if (st.filesRead !== cycle) this.readFiles(st, cycle); // identities new this cycle
    const { stat } = st;
    const u = st.update;
    const d = u.delta;
    const phase = phaseIn(st, cycle, this.firstCycleTicks);

    // the one delta rule; a newcomer also brings the CPU of the children it reaped before we saw it.
    // Own CPU in microseconds when the source gave it now and (for a known process) last cycle too,
    // else in ticks: both baselines move every cycle, so a switch between them never counts twice.
    const exact = st.cpuUsRead === cycle && (phase !== KNOWN || st.lastCpuUsRead === cycle - 1);
    const ownUser = exact ? increment(phase, st.userUs, st.lastUserUs) / 1e6 : increment(phase, stat.utime, st.utime) / TICKS_PER_SECOND;
    const ownSystem = exact ? increment(phase, st.systemUs, st.lastSystemUs) / 1e6 : increment(phase, stat.stime, st.stime) / TICKS_PER_SECOND;
    st.lastUserUs = st.userUs;
    st.lastSystemUs = st.systemUs;
    st.lastCpuUsRead = st.cpuUsRead;
    let userTicks = 0;
    let systemTicks = 0;
    let minflt = increment(phase, stat.minflt, st.minflt);
    let majflt = increment(phase, stat.majflt, st.majflt);
    if (phase === NEWCOMER && !this.opts.exitRecords) {
      // with exit records, children reaped before we saw it were credited from their records
      userTicks += stat.cutime;
      systemTicks += stat.cstime;
      minflt += stat.cminflt;
      majflt += stat.cmajflt;
    } else if (phase === KNOWN && this.opts.children) {
      const credit = creditChildren(st.children, stat, st, d, this.childCredit);
      userTicks += credit.user;
      systemTicks += credit.system;
      minflt += credit.minflt;
      majflt += credit.majflt;
      d.readBytes = credit.readBytes;
      d.writeBytes = credit.writeBytes;
    }
    d.cpuUser = ownUser + userTicks / TICKS_PER_SECOND;
    d.cpuSystem = ownSystem + systemTicks / TICKS_PER_SECOND;
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
    if (this.threadsFor(st)) creditThreadResidual(st);
    return u;
  }
}

/**
 * The delta rule's phase of a process; one closed by its exit record in an earlier cycle is
 * credited nothing more. A newcomer is credited whole only when it started after the first cycle
 * (process-exporter's rule); one that ran before the exporter but shows up late (a -recheck
 * rename, a read that failed) is a baseline: it counts from here on, its history stays out.
 */
function phaseIn(st: ProcState, cycle: number, firstCycleTicks: number): Phase {
  if (st.closedAt !== undefined && st.closedAt < cycle) return BASELINE;
  const phase = phaseOf(st.firstCycle, cycle);
  return phase === NEWCOMER && st.startTime <= firstCycleTicks ? BASELINE : phase;
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

/**
 * Context switches from the source's sum over all threads, live and exited, under the delta rule.
 * A known process whose sum was not read last cycle (threads were read then, or the query failed)
 * takes this one as its base and is credited nothing this cycle; a failed query credits nothing.
 */
function creditWholeCtxSwitches(st: ProcState, cycle: number, phase: Phase, read: number): void {
  const d = st.update.delta;
  d.voluntaryCtxSwitches = 0;
  d.nonvoluntaryCtxSwitches = 0;
  if (read & COUNTERS.wholeProcessCtxSwitches) {
    const c = st.own.counters;
    if (phase !== KNOWN || st.wholeCtxRead === cycle - 1) {
      d.voluntaryCtxSwitches = increment(phase, c.voluntaryCtxSwitches, st.wholeVol);
      d.nonvoluntaryCtxSwitches = increment(phase, c.nonvoluntaryCtxSwitches, st.wholeNonvol);
    }
    st.wholeVol = c.voluntaryCtxSwitches;
    st.wholeNonvol = c.nonvoluntaryCtxSwitches;
    st.wholeCtxRead = cycle;
  }
  // credited so far: the base an exit record's final count is taken against
  st.vol = phase === KNOWN ? st.vol + d.voluntaryCtxSwitches : st.wholeVol;
  st.nonvol = phase === KNOWN ? st.nonvol + d.nonvoluntaryCtxSwitches : st.wholeNonvol;
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
