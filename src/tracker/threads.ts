/**
 * Thread accounting of one tracked process: which threads it has (listing task/ only when the
 * set may have changed), what each live thread added this cycle under the delta rule, the sum of
 * their context switches (the process's own count: its status has the leader's only), and the
 * residual: CPU of threads that exited and of reaped children, credited under the main thread's
 * name so that per group the thread CPU sums to the process CPU.
 *
 * Pure: thread samples come from a ThreadSource (the host in the exporter, a table in tests).
 */
import { COUNTERS, type TaskCounters } from '../host/counter-source.js';
import { type PidStat, TICKS_PER_SECOND } from '../procfs/pid-stat.js';
import { increment, KNOWN, BASELINE, NEWCOMER, type Phase } from './delta.js';
import type { ThreadUpdate } from './updates.js';

/** Where a thread's files are; built once per thread by the source. */
export interface ThreadRef {
  readonly tid: number;
}


/** Reads threads; R is how it addresses a thread, P a process (both built once per identity). */
export interface ThreadSource<R extends ThreadRef, P> {
  ref(pid: number, tid: number): R;
  /** the thread's stat, parsed into one scratch object (read it before the next call); `name` is its last known comm */
  stat(ref: R, name: string): PidStat | undefined;
  /** thread ids of the process; undefined when the list could not be read */
  list(process: P): readonly number[] | undefined;
  /** the counters of `want` (COUNTERS mask: context switches, io, CPU in microseconds where the source has it) into `into`; returns the mask of what was read */
  counters(ref: R, want: number, into: TaskCounters): number;
  /** the kernel function the thread waits in ("" for none); undefined when gone or unreadable */
  wchan(ref: R): string | undefined;
}

/**
 * A live thread: what it added this cycle (the ThreadUpdate the grouper reads) and its last raw
 * values. One object per thread, as there can be tens of thousands.
 */
export interface ThreadState<R extends ThreadRef = ThreadRef> extends ThreadUpdate {
  tid: number;
  startTime: number;
  ref: R;
  seen: number;
  lastUtime: number;
  lastStime: number;
  lastMinflt: number;
  lastMajflt: number;
  lastReadBytes: number;
  lastWriteBytes: number;
  lastVol: number;
  lastNonvol: number;
  /** CPU in microseconds at the last cycle, when the details source gave it (lastUs) */
  lastUserUs: number;
  lastSystemUs: number;
  lastUs: boolean;
}

/** The parts of a tracked process this module reads and writes. */
export interface ThreadOwner<R extends ThreadRef = ThreadRef, P = unknown> {
  pid: number;
  files: P;
  comm: string;
  stat: PidStat;
  /** threads read last cycle (a plain array: a Map per process costs ~1 KB at 20 threads) */
  threads: ThreadState<R>[];
  /** CPU of the live threads read this cycle (seconds) and how many, for the residual entry */
  threadUser: number;
  threadSystem: number;
  liveThreads: number;
  /** thread credit running ahead of process credit (seconds, <= 0), settled later */
  threadCarryUser: number;
  threadCarrySystem: number;
  residual: ThreadUpdate;
  /** the process's update: its CPU delta and the thread entries the grouper reads */
  update: { delta: { cpuUser: number; cpuSystem: number }; threads: ThreadUpdate[] };
  /**
   * The process's own files as read this cycle (stat aside): they are its only thread's when it
   * has one, so a single-threaded process needs no task/ reads. `read`: COUNTERS mask filled.
   */
  own: { counters: TaskCounters; read: number; wchan: string };
  /** context switches of the live threads this cycle: increments, and their current totals */
  threadVol: number;
  threadNonvol: number;
  threadVolTotal: number;
  threadNonvolTotal: number;
}

export interface ThreadReadOptions {
  /** read each thread's io (thread_io_bytes_total); its status (context switches) is always read */
  details: boolean;
  /** read each thread's wchan */
  wchan: boolean;
}

/**
 * Reads the process's threads and their increments into update.threads[0..liveThreads), and sums
 * their context switches into threadVol/threadNonvol (a thread that exits keeps what it had: it
 * simply adds nothing more). `phase` is the process's: a thread new in a known or newcomer
 * process is credited fully.
 */
export function readThreads<R extends ThreadRef, P>(
  st: ThreadOwner<R, P>, source: ThreadSource<R, P>, cycle: number, phase: Phase, scratch: TaskCounters, options: ThreadReadOptions,
): void {
  // `out` is rewritten in place and trimmed once the residual entry is settled: truncating it
  // first (length = 0) is a runtime call per process per cycle
  const out = st.update.threads;
  const known = st.threads;
  let n = 0;
  let threadUser = 0;
  let threadSystem = 0;
  let vol = 0;
  let nonvol = 0;
  let volTotal = 0;
  let nonvolTotal = 0;
  const add = (t: ThreadState<R>): void => {
    threadUser += t.cpuUser;
    threadSystem += t.cpuSystem;
    vol += t.voluntaryCtxSwitches;
    nonvol += t.nonvoluntaryCtxSwitches;
    volTotal += t.lastVol;
    nonvolTotal += t.lastNonvol;
    out[n++] = t;
  };
  const { stat } = st;
  const want = COUNTERS.ctxSwitches | COUNTERS.cpu | (options.details ? COUNTERS.io : 0);
  const newThreadPhase = phase === BASELINE ? BASELINE : NEWCOMER;
  if (stat.numThreads <= 1) {
    // the process is its own only thread: its stat, status, io and wchan are the thread's, no task/ reads
    const main = known.length === 1 && known[0]?.tid === stat.pid ? known[0] : known.find((t) => t.tid === stat.pid);
    const t = threadDelta(source, st.pid, main, stat.pid, stat, cycle, newThreadPhase, undefined, 0);
    takeCounters(t, t === main ? KNOWN : newThreadPhase, st.own.counters, st.own.read & want);
    t.wchan = st.own.wchan;
    add(t);
    if (known.length !== 1 || known[0] !== t) st.threads = [t];
  } else {
    // task/ is listed only when the thread set may have changed. The same count as last cycle
    // with every known thread still there (same start time) is the same set; a thread started
    // after the count was read is found next cycle, like one started after a listing.
    let listed = known.length !== stat.numThreads;
    let failedTid = -1;
    if (!listed) {
      for (const ts of known) {
        const tstat = source.stat(ts.ref, ts.name);
        if (!tstat || tstat.startTime !== ts.startTime) {
          if (!tstat) failedTid = ts.tid; // gone, or an error already counted: not read again
          listed = true;
          break;
        }
        const t = threadDelta(source, st.pid, ts, ts.tid, tstat, cycle, newThreadPhase, scratch, want);
        if (options.wchan) t.wchan = source.wchan(t.ref) ?? '';
        add(t);
      }
    }
    if (listed) {
      // threads already read above stay; the listing adds the others
      const next: ThreadState<R>[] = known.filter((t) => t.seen === cycle);
      const byTid = new Map<number, ThreadState<R>>();
      for (const t of known) byTid.set(t.tid, t);
      for (const tid of source.list(st.files) ?? []) {
        const prev = byTid.get(tid);
        if (prev?.seen === cycle || tid === failedTid) continue;
        const ref = prev?.ref ?? source.ref(st.pid, tid);
        const tstat = source.stat(ref, prev?.name ?? '');
        if (!tstat) continue;
        const t = threadDelta(source, st.pid, prev, tid, tstat, cycle, newThreadPhase, scratch, want, ref);
        if (options.wchan) t.wchan = source.wchan(t.ref) ?? '';
        add(t);
        next.push(t);
      }
      st.threads = next;
    }
  }
  st.threadUser = threadUser;
  st.threadSystem = threadSystem;
  st.threadVol = vol;
  st.threadNonvol = nonvol;
  st.threadVolTotal = volTotal;
  st.threadNonvolTotal = nonvolTotal;
  st.liveThreads = n;
}

/**
 * After the process's CPU delta is known: CPU of threads that exited and of reaped children as one
 * entry under the main thread's name, so that per group the thread CPU sums to the process CPU.
 * Thread credit ahead of the process's (clock ticks of threads and process are sampled apart) is
 * carried and settled later, never credited twice.
 */
export function creditThreadResidual(st: ThreadOwner): void {
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

/**
 * Updates `prev` (or a new state when the tid is new or reused) with the thread's stat, and with
 * the counters of `want` read into `scratch` from its own files; returns it.
 */
function threadDelta<R extends ThreadRef>(
  source: ThreadSource<R, unknown>, pid: number, prev: ThreadState<R> | undefined, tid: number, tstat: PidStat, cycle: number,
  newThreadPhase: Phase, scratch: TaskCounters | undefined, want: number, ref?: R,
): ThreadState<R> {
  const isNew = !prev || prev.startTime !== tstat.startTime;
  const ts = !prev || isNew ? newThread(ref ?? prev?.ref ?? source.ref(pid, tid), tid, tstat) : prev;
  const phase = isNew ? newThreadPhase : KNOWN;
  ts.seen = cycle;
  ts.name = tstat.comm;
  ts.state = tstat.state;
  const read = scratch ? source.counters(ts.ref, want, scratch) : 0;
  // CPU in microseconds when the source gave it now and (for a known thread) last cycle, else in
  // ticks of stat; both baselines move every cycle, so a switch never counts twice
  const us = scratch !== undefined && (read & COUNTERS.cpu) !== 0;
  if (us && (phase !== KNOWN || ts.lastUs)) {
    ts.cpuUser = increment(phase, scratch.cpuUserUs, ts.lastUserUs) / 1e6;
    ts.cpuSystem = increment(phase, scratch.cpuSystemUs, ts.lastSystemUs) / 1e6;
  } else {
    ts.cpuUser = increment(phase, tstat.utime, ts.lastUtime) / TICKS_PER_SECOND;
    ts.cpuSystem = increment(phase, tstat.stime, ts.lastStime) / TICKS_PER_SECOND;
  }
  ts.lastUs = us;
  if (us) {
    ts.lastUserUs = scratch.cpuUserUs;
    ts.lastSystemUs = scratch.cpuSystemUs;
  }
  ts.minorFaults = increment(phase, tstat.minflt, ts.lastMinflt);
  ts.majorFaults = increment(phase, tstat.majflt, ts.lastMajflt);
  ts.lastUtime = tstat.utime;
  ts.lastStime = tstat.stime;
  ts.lastMinflt = tstat.minflt;
  ts.lastMajflt = tstat.majflt;
  if (scratch) takeCounters(ts, phase, scratch, read);
  return ts;
}

/** A thread's io and context-switch increments from counters read (`read`: COUNTERS mask); what was not read adds nothing. */
function takeCounters(ts: ThreadState<ThreadRef>, phase: Phase, c: TaskCounters, read: number): void {
  if (read & COUNTERS.io) {
    ts.readBytes = increment(phase, c.readBytes, ts.lastReadBytes);
    ts.writeBytes = increment(phase, c.writeBytes, ts.lastWriteBytes);
    ts.lastReadBytes = c.readBytes;
    ts.lastWriteBytes = c.writeBytes;
  } else {
    ts.readBytes = 0;
    ts.writeBytes = 0;
  }
  if (read & COUNTERS.ctxSwitches) {
    ts.voluntaryCtxSwitches = increment(phase, c.voluntaryCtxSwitches, ts.lastVol);
    ts.nonvoluntaryCtxSwitches = increment(phase, c.nonvoluntaryCtxSwitches, ts.lastNonvol);
    ts.lastVol = c.voluntaryCtxSwitches;
    ts.lastNonvol = c.nonvoluntaryCtxSwitches;
  } else {
    ts.voluntaryCtxSwitches = 0;
    ts.nonvoluntaryCtxSwitches = 0;
  }
}

function newThread<R extends ThreadRef>(ref: R, tid: number, tstat: PidStat): ThreadState<R> {
  // one literal with every field (no spread): all thread states share one hidden class
  return {
    name: tstat.comm,
    alive: 1,
    state: tstat.state,
    wchan: '',
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
    ref,
    seen: 0,
    lastUtime: 0,
    lastStime: 0,
    lastMinflt: 0,
    lastMajflt: 0,
    lastReadBytes: 0,
    lastWriteBytes: 0,
    lastVol: 0,
    lastNonvol: 0,
    lastUserUs: 0,
    lastSystemUs: 0,
    lastUs: false,
  };
}
