import type { GroupAssignment } from '../config/attributes.js';
import { addReadErrors } from '../host/read-errors.js';
import { TICKS_PER_SECOND } from '../procfs/pid-stat.js';
import { DELAY_KINDS } from '../taskstats/exit-record.js';
import type { TrackerResult } from '../tracker/tracker.js';
import type { ProcessDelta, ProcessUpdate } from '../tracker/updates.js';
import type { CycleSnapshot, GroupSnapshot, ProcessMember, ThreadGroupSnapshot } from './snapshot.js';
import { type ThreadNameOptions, ThreadNamer } from './thread-names.js';

export interface GrouperOptions {
  /** drop a group (and restart its counters) when it has no process (process-exporter -remove-empty-groups) */
  removeEmptyGroups: boolean;
  gatherSmaps: boolean;
  /** a thread name absent this many cycles is dropped, bounding memory with ever-new thread names */
  threadNameTtlCycles: number;
  /** normalization and per-group cap of thread names (series cardinality); default: names as the kernel has them, no cap */
  threadNames?: ThreadNameOptions;
  /**
   * 'process-exporter' (-compat=process-exporter): `states` adds each thread's state to its
   * process's when it has more than one thread, and thread rows leave out single-threaded
   * processes, as process-exporter 0.7.10 does. Default: states count processes, thread rows
   * include every process.
   */
  semantics?: 'default' | 'process-exporter';
}

interface ThreadAccum extends ThreadGroupSnapshot {
  lastSeenCycle: number;
}

interface GroupAccum {
  snapshot: GroupSnapshot;
  threads: Map<string, ThreadAccum>;
}

/** A group with zero counters and gauges. */
export function newGroupSnapshot(key: string, name: string, labels: Readonly<Record<string, string>>, threads: ReadonlyMap<string, ThreadGroupSnapshot>): GroupSnapshot {
  return {
    key,
    name,
    labels,
    numProcs: 0,
    numThreads: 0,
    openFds: 0,
    worstFdRatio: 0,
    oldestStartTime: undefined,
    memory: { resident: 0, virtual: 0, swapped: 0, proportionalResident: undefined, proportionalSwapped: undefined },
    states: { running: 0, sleeping: 0, waiting: 0, zombie: 0, other: 0 },
    wchans: new Map(),
    cpu: { user: 0, system: 0 },
    lastCycle: { cpuUser: 0, cpuSystem: 0, readBytes: 0, writeBytes: 0 },
    readBytes: 0,
    writeBytes: 0,
    majorFaults: 0,
    minorFaults: 0,
    voluntaryCtxSwitches: 0,
    nonvoluntaryCtxSwitches: 0,
    processesStarted: 0,
    processesExited: 0,
    delays: undefined,
    threads,
    members: [],
  };
}

function resetGauges(g: GroupSnapshot, gatherSmaps: boolean): void {
  g.numProcs = 0;
  g.numThreads = 0;
  g.openFds = 0;
  g.worstFdRatio = 0;
  g.oldestStartTime = undefined;
  g.memory = {
    resident: 0,
    virtual: 0,
    swapped: 0,
    proportionalResident: gatherSmaps ? 0 : undefined,
    proportionalSwapped: gatherSmaps ? 0 : undefined,
  };
  g.states = { running: 0, sleeping: 0, waiting: 0, zombie: 0, other: 0 };
  g.lastCycle = { cpuUser: 0, cpuSystem: 0, readBytes: 0, writeBytes: 0 };
  g.wchans = new Map();
  g.members = [];
}

/**
 * Sums per-process increments into per-group accumulators that never decrease (even when every
 * process of a group exits), and recomputes the gauges each cycle.
 */
export class Grouper {
  private readonly groups = new Map<string, GroupAccum>();
  private hostBaseTicks: { user: number; system: number } | undefined;
  /** all CPU credited to any group since start-up, seconds (groups may be removed; this is not) */
  private creditedCpu = 0;
  private unaccounted = 0;
  private procReadErrors = 0;
  private partialErrors = 0;
  private readonly byFile = new Map<string, Map<string, number>>();
  /** a previous grouper's groups (config reload), taken over when a group of the same key appears */
  private inherited: Map<string, GroupAccum> | undefined;
  private readonly threadNamer: ThreadNamer;
  private lastTimeMs: number | undefined;

  /** process-exporter's states and thread rows */
  private readonly pe: boolean;

  constructor(private readonly opts: GrouperOptions) {
    this.threadNamer = new ThreadNamer(opts.threadNames ?? { normalize: false, maxPerGroup: 0 });
    this.pe = opts.semantics === 'process-exporter';
  }

  /**
   * Continue the counters of `previous` (the grouper of the config before a reload): a group whose
   * name and labels reappear keeps its totals and thread names; groups that do not, end.
   */
  carryOver(previous: Grouper): void {
    this.inherited = new Map(previous.groups);
    this.hostBaseTicks = previous.hostBaseTicks;
    this.creditedCpu = previous.creditedCpu;
    this.unaccounted = previous.unaccounted;
    this.procReadErrors = previous.procReadErrors;
    this.partialErrors = previous.partialErrors;
    addReadErrors(this.byFile, previous.byFile);
  }

  private inherit(key: string): GroupAccum | undefined {
    const acc = this.inherited?.get(key);
    if (!acc) return undefined;
    this.inherited?.delete(key);
    resetGauges(acc.snapshot, this.opts.gatherSmaps);
    // cycle numbers restart with the new tracker
    for (const t of acc.threads.values()) t.lastSeenCycle = 0;
    this.groups.set(key, acc);
    return acc;
  }

  private accum(key: string, group: GroupAssignment): GroupAccum {
    let acc = this.groups.get(key) ?? this.inherit(key);
    if (!acc) {
      const threads = new Map<string, ThreadAccum>();
      acc = { snapshot: newGroupSnapshot(key, group.name, group.labels, threads), threads };
      resetGauges(acc.snapshot, this.opts.gatherSmaps);
      this.groups.set(key, acc);
    }
    return acc;
  }

  apply(result: TrackerResult, durationSeconds: number, scrapeErrors: number): CycleSnapshot {
    const { cycle } = result;
    for (const g of this.groups.values()) resetGauges(g.snapshot, this.opts.gatherSmaps);
    let creditedThisCycle = 0;
    for (const u of result.updates) {
      const acc = this.accum(u.groupKey, u.group);
      creditedThisCycle += u.delta.cpuUser + u.delta.cpuSystem;
      addProcess(acc.snapshot, u, this.pe);
      if (!this.pe || u.numThreads > 1) for (const t of u.threads) addThread(acc.threads, this.threadNamer.name(t.name, acc.threads), t, cycle);
    }
    for (const e of result.exits) {
      const acc = this.accum(e.groupKey, e.group);
      const g = acc.snapshot;
      creditedThisCycle += e.delta.cpuUser + e.delta.cpuSystem;
      addDelta(g, e.delta);
      addLastCycle(g, e.delta);
      g.processesStarted += e.started;
      g.processesExited += e.exited;
      if (e.delays) {
        const d = (g.delays ??= { cpu: 0, blkio: 0, swapin: 0, reclaim: 0 });
        for (const k of DELAY_KINDS) d[k] += e.delays[k];
      }
      // exited tasks count under their own name, as no live thread (process-exporter has no such rows)
      if (e.threadName !== '' && e.group.threads !== false && !this.pe) {
        addThread(acc.threads, this.threadNamer.name(e.threadName, acc.threads), { name: e.threadName, alive: 0, state: '', wchan: '', ...e.delta }, cycle);
      }
    }
    this.creditedCpu += creditedThisCycle;
    for (const [key, acc] of this.groups) {
      if (acc.snapshot.numProcs === 0 && this.opts.removeEmptyGroups) {
        this.groups.delete(key);
        continue;
      }
      for (const [name, t] of acc.threads) {
        if (t.lastSeenCycle !== cycle) {
          t.count = 0;
          t.lastCycleCpu.user = 0;
          t.lastCycleCpu.system = 0;
          if (cycle - t.lastSeenCycle > this.opts.threadNameTtlCycles) acc.threads.delete(name);
        }
      }
    }

    const hostUserTicks = result.host.user + result.host.nice;
    const hostSystemTicks = result.host.system;
    this.hostBaseTicks ??= { user: hostUserTicks, system: hostSystemTicks };
    const hostSince = (hostUserTicks - this.hostBaseTicks.user + hostSystemTicks - this.hostBaseTicks.system) / TICKS_PER_SECOND;
    this.unaccounted = Math.max(this.unaccounted, hostSince - this.creditedCpu);

    this.procReadErrors += result.errors.procRead;
    this.partialErrors += result.errors.partial;
    addReadErrors(this.byFile, result.errors.byFile);

    const timeMs = Date.now();
    const intervalSeconds = this.lastTimeMs === undefined ? 0 : (timeMs - this.lastTimeMs) / 1000;
    this.lastTimeMs = timeMs;
    return {
      timeMs,
      intervalSeconds,
      durationSeconds,
      cycle,
      groups: [...this.groups.values()].map((g) => g.snapshot),
      host: {
        user: hostUserTicks / TICKS_PER_SECOND,
        system: hostSystemTicks / TICKS_PER_SECOND,
        unaccounted: this.unaccounted,
      },
      errors: {
        scrapeErrors,
        procReadErrors: this.procReadErrors,
        partialErrors: this.partialErrors,
        byFile: this.byFile,
      },
      exitRecords: result.exitRecords,
    };
  }
}

/** The monotonic counters a group and a thread name both accumulate. */
type Counters = Pick<ThreadGroupSnapshot, 'cpu' | 'readBytes' | 'writeBytes' | 'majorFaults' | 'minorFaults' | 'voluntaryCtxSwitches' | 'nonvoluntaryCtxSwitches'>;

function addDelta(acc: Counters, d: ProcessDelta): void {
  acc.cpu.user += d.cpuUser;
  acc.cpu.system += d.cpuSystem;
  acc.readBytes += d.readBytes;
  acc.writeBytes += d.writeBytes;
  acc.majorFaults += d.majorFaults;
  acc.minorFaults += d.minorFaults;
  acc.voluntaryCtxSwitches += d.voluntaryCtxSwitches;
  acc.nonvoluntaryCtxSwitches += d.nonvoluntaryCtxSwitches;
}

function addLastCycle(g: GroupSnapshot, d: ProcessDelta): void {
  const last = g.lastCycle;
  last.cpuUser += d.cpuUser;
  last.cpuSystem += d.cpuSystem;
  last.readBytes += d.readBytes;
  last.writeBytes += d.writeBytes;
}

function addState(s: GroupSnapshot['states'], state: string): void {
  switch (state) {
    case 'R':
      s.running++;
      break;
    case 'S':
      s.sleeping++;
      break;
    case 'D':
      s.waiting++;
      break;
    case 'Z':
      s.zombie++;
      break;
    default:
      s.other++;
  }
}

function addWchan(wchans: GroupSnapshot['wchans'], wchan: string): void {
  if (wchan !== '') (wchans as Map<string, number>).set(wchan, (wchans.get(wchan) ?? 0) + 1);
}

/**
 * `peStates`: process-exporter's states (the process's own plus each thread's when it has more
 * than one). Wchans follow process-exporter either way: the process's own wchan, plus each
 * thread's when it has more than one thread (so the leader counts twice).
 */
function addProcess(g: GroupSnapshot, u: ProcessUpdate, peStates: boolean): void {
  addDelta(g, u.delta);
  addLastCycle(g, u.delta);

  g.numProcs++;
  g.numThreads += u.numThreads;
  if (u.openFds >= 0) {
    g.openFds += u.openFds;
    if (Number.isFinite(u.fdLimit) && u.fdLimit > 0) g.worstFdRatio = Math.max(g.worstFdRatio, u.openFds / u.fdLimit);
  }
  if (g.oldestStartTime === undefined || u.startTimeSeconds < g.oldestStartTime) g.oldestStartTime = u.startTimeSeconds;
  const m = g.memory;
  m.resident += u.residentBytes;
  m.virtual += u.virtualBytes;
  m.swapped += u.swappedBytes;
  if (m.proportionalResident !== undefined) m.proportionalResident += u.pssBytes ?? 0;
  if (m.proportionalSwapped !== undefined) m.proportionalSwapped += u.swapPssBytes ?? 0;
  addState(g.states, u.state);
  addWchan(g.wchans, u.wchan);
  if (u.numThreads > 1) {
    for (const t of u.threads) {
      if (t.alive === 0) continue;
      if (peStates) addState(g.states, t.state);
      addWchan(g.wchans, t.wchan);
    }
  }
  (g.members as ProcessMember[]).push(u.member);
}

function addThread(threads: Map<string, ThreadAccum>, name: string, t: ProcessUpdate['threads'][number], cycle: number): void {
  let acc = threads.get(name);
  if (!acc) {
    acc = {
      count: 0,
      cpu: { user: 0, system: 0 },
      lastCycleCpu: { user: 0, system: 0 },
      majorFaults: 0,
      minorFaults: 0,
      readBytes: 0,
      writeBytes: 0,
      voluntaryCtxSwitches: 0,
      nonvoluntaryCtxSwitches: 0,
      lastSeenCycle: cycle,
    };
    threads.set(name, acc);
  }
  if (acc.lastSeenCycle !== cycle) {
    acc.count = 0;
    acc.lastCycleCpu.user = 0;
    acc.lastCycleCpu.system = 0;
    acc.lastSeenCycle = cycle;
  }
  acc.count += t.alive;
  acc.lastCycleCpu.user += t.cpuUser;
  acc.lastCycleCpu.system += t.cpuSystem;
  addDelta(acc, t);
}
