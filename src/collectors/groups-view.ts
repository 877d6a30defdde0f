/**
 * The groups as people look at them (the groups page, /api/groups, `top`): per group its
 * processes, CPU and I/O rates over the last cycle, memory, thread names, and for each process the
 * rule that matched it or the ancestor whose group it joined. Rendered from a cycle snapshot; no I/O.
 */
import type { CycleSnapshot, GroupSnapshot, ProcessMember } from '../grouper/snapshot.js';

export interface ProcessView {
  pid: number;
  ppid: number;
  comm: string;
  /** CPU over the last cycle, in cores (1 = one CPU busy); null before a second cycle */
  cpuUser: number | null;
  cpuSystem: number | null;
  residentBytes: number;
  threads: number;
  /** Kubernetes identity when matching resolved it */
  container: { namespace: string | null; pod: string | null; name: string | null; id: string | null } | null;
  cgroup: string | null;
  /** how it joined the group: a rule (index and text) or a tracked parent */
  matched: { rule: number; text: string | null } | { inheritedFrom: number } | null;
}

export interface ThreadNameView {
  name: string;
  count: number;
  cpuUser: number | null;
  cpuSystem: number | null;
  cpuSecondsTotal: number;
}

/** share of the last interval (0..1) the tasks of the group's cgroups were stalled; null before a second PSI reading */
export interface StallShare {
  some: number | null;
  full: number | null;
}

/** PSI per resource of the group's cgroups (the worst cgroup when it has several); only with the PSI collector on */
export type GroupPressureView = Partial<Record<'cpu' | 'memory' | 'io', StallShare>>;

export interface GroupView {
  name: string;
  labels: Readonly<Record<string, string>>;
  processes: number;
  threads: number;
  /** cores, over the last cycle; null before a second cycle */
  cpuUser: number | null;
  cpuSystem: number | null;
  cpuSecondsTotal: number;
  residentBytes: number;
  /** bytes per second over the last cycle */
  readRate: number | null;
  writeRate: number | null;
  /** the busiest processes first; all of them, or the first `processLimit` */
  members: ProcessView[];
  threadNames: ThreadNameView[];
  /** absent unless the PSI collector is on and could read the cgroups */
  pressure?: GroupPressureView;
}

export interface GroupsView {
  /** unix ms of the cycle */
  time: number;
  /** seconds the rates are measured over (0: the first cycle, no rates yet) */
  intervalSeconds: number;
  cycle: number;
  groups: GroupView[];
}

export interface GroupsViewOptions {
  /** processes listed per group (the busiest); Infinity for all */
  processLimit: number;
  /** thread names listed per group (the busiest) */
  threadLimit: number;
  /** only the group with this name */
  only?: string;
  /** process_names rule `i` as written */
  describeRule?: (i: number) => string | undefined;
  /** the group's PSI over the last interval (PsiCollector.groupPressure) */
  pressure?: ((g: GroupSnapshot) => GroupPressureView | undefined) | undefined;
}

function rate(value: number, seconds: number): number | null {
  return seconds > 0 ? value / seconds : null;
}

function processView(m: ProcessMember, seconds: number, describeRule: GroupsViewOptions['describeRule']): ProcessView {
  const c = m.container;
  let matched: ProcessView['matched'] = null;
  if (m.inheritedFrom !== undefined) matched = { inheritedFrom: m.inheritedFrom };
  else if (m.rule !== undefined) matched = { rule: m.rule, text: describeRule?.(m.rule) ?? null };
  return {
    pid: m.pid,
    ppid: m.ppid,
    comm: m.comm,
    cpuUser: rate(m.cpuUser, seconds),
    cpuSystem: rate(m.cpuSystem, seconds),
    residentBytes: m.residentBytes,
    threads: m.numThreads,
    container: c ? { namespace: c.namespace ?? null, pod: c.pod ?? null, name: c.container ?? null, id: c.containerId ?? null } : null,
    cgroup: m.cgroupPath ?? null,
    matched,
  };
}

const busiest = <T extends { cpuUser: number; cpuSystem: number }>(a: T, b: T): number => b.cpuUser + b.cpuSystem - (a.cpuUser + a.cpuSystem);

function groupView(g: GroupSnapshot, seconds: number, opts: GroupsViewOptions): GroupView {
  const members = [...g.members].sort((a, b) => busiest(a, b) || a.pid - b.pid).slice(0, opts.processLimit);
  const threads = [...g.threads]
    .filter(([, t]) => t.count > 0)
    .sort(([an, a], [bn, b]) => b.lastCycleCpu.user + b.lastCycleCpu.system - (a.lastCycleCpu.user + a.lastCycleCpu.system) || b.count - a.count || an.localeCompare(bn))
    .slice(0, opts.threadLimit);
  return {
    name: g.name,
    labels: g.labels,
    processes: g.numProcs,
    threads: g.numThreads,
    cpuUser: rate(g.lastCycle.cpuUser, seconds),
    cpuSystem: rate(g.lastCycle.cpuSystem, seconds),
    cpuSecondsTotal: g.cpu.user + g.cpu.system,
    residentBytes: g.memory.resident,
    readRate: rate(g.lastCycle.readBytes, seconds),
    writeRate: rate(g.lastCycle.writeBytes, seconds),
    members: members.map((m) => processView(m, seconds, opts.describeRule)),
    threadNames: threads.map(([name, t]) => ({
      name,
      count: t.count,
      cpuUser: rate(t.lastCycleCpu.user, seconds),
      cpuSystem: rate(t.lastCycleCpu.system, seconds),
      cpuSecondsTotal: t.cpu.user + t.cpu.system,
    })),
    ...optional('pressure', opts.pressure?.(g)),
  };
}

const optional = <K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> => (value === undefined ? {} : { [key]: value } as Record<K, V>);

/** The groups of `cycle`, busiest first (then by name). */
export function buildGroupsView(cycle: CycleSnapshot, opts: GroupsViewOptions): GroupsView {
  const seconds = cycle.intervalSeconds;
  const groups = cycle.groups
    .filter((g) => opts.only === undefined || g.name === opts.only)
    .map((g) => groupView(g, seconds, opts))
    .sort((a, b) => (b.cpuUser ?? 0) + (b.cpuSystem ?? 0) - ((a.cpuUser ?? 0) + (a.cpuSystem ?? 0)) || a.name.localeCompare(b.name));
  return { time: cycle.timeMs, intervalSeconds: seconds, cycle: cycle.cycle, groups };
}
