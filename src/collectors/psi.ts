/**
 * PSI collector: cgroup v2 pressure stall information of the cgroups each group's processes live in,
 * plus the host's /proc/pressure/*.
 *
 * Series are per (group, cgroup): the value is the cgroup's own pressure, which covers every task in
 * that cgroup, not only the group's. Two groups with processes in the same cgroup both report it.
 * Members' cgroups are re-read from /proc/<pid>/cgroup (every `cgroupRecheckCycles` cycles, default
 * every cycle) because a process can be moved after it was first seen.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { resolveCgroup, type Cgroup2Mount } from '../cgroup/mountinfo.js';
import { type Pressure, type PressureKind, type PressureLine } from '../cgroup/pressure.js';
import type { ContainerIdentity } from '../cgroup/types.js';
import { RESERVED_LABEL_NAMES } from '../config/matcher.js';
import type { PsiOptions } from '../config/schema.js';
import { ExporterError, ParseError, ProcReadError } from '../errors.js';
import type { CycleSnapshot, GroupSnapshot, ProcessMember } from '../grouper/snapshot.js';
import type { Host } from '../host/host.js';
import { createLogger, type Logger } from '../log.js';
import type { Collector } from './collector.js';
import type { GroupPressureView } from './groups-view.js';
import { groupLabels } from './group.js';

export const CGROUP_RESOURCES = ['cpu', 'memory', 'io'] as const;
export type CgroupResource = (typeof CGROUP_RESOURCES)[number];
/** irq: Linux 6.1+ with CONFIG_IRQ_TIME_ACCOUNTING, `full` only */
export const HOST_RESOURCES = ['cpu', 'memory', 'io', 'irq'] as const;
export type HostResource = (typeof HOST_RESOURCES)[number];

/** enabled, averages: the config's psi section (config/schema.ts) */
export interface PsiCollectorOptions extends PsiOptions {
  /** reads the pressure files, members' cgroups and the cgroup2 mount (procfs root, rootfs, cgroup2 root) */
  host: Host;
  /** label names every group carries besides groupname (ProcessMatcher.labelNames) */
  groupLabelNames?: readonly string[] | undefined;
  /** Kubernetes identity of a cgroup path (adds namespace/pod/container labels); default: the host's resolver */
  resolveContainer?: ((cgroupPath: string) => ContainerIdentity | undefined) | undefined;
  /** re-read /proc/<pid>/cgroup of a member when its cached path is this many cycles old; default 1 (every cycle) */
  cgroupRecheckCycles?: number | undefined;
  /** problems that do not fail the collector (a cgroup skipped), once each; default: warnings on stderr */
  log?: Logger | undefined;
}

const CONTAINER_LABELS = ['namespace', 'pod', 'container'] as const;
const WINDOWS = [
  ['10s', 'avg10Percent'],
  ['60s', 'avg60Percent'],
  ['300s', 'avg300Percent'],
] as const;
/** files that do not exist or are being removed: the cgroup went away mid-read */
const GONE_ERRNOS = new Set(['ENOENT', 'ENODEV', 'ESRCH']);

type CgroupPressure = Partial<Record<CgroupResource, Pressure>>;
type HostPressure = Partial<Record<HostResource, Pressure>>;

interface CgroupReading {
  path: string;
  container: ContainerIdentity | undefined;
  pressure: CgroupPressure;
}

interface GroupReading {
  group: GroupSnapshot;
  cgroups: CgroupReading[];
}

interface Reading {
  cycle: number;
  timeMs: number;
  mount: Cgroup2Mount;
  host: HostPressure;
  groups: GroupReading[];
}

/** One `some`/`full` line as served on /psi: averages as ratios, total in seconds. */
export interface PressureLineJson {
  avg10: number;
  avg60: number;
  avg300: number;
  total_seconds: number;
}
export type PressureJson = Partial<Record<PressureKind, PressureLineJson>>;

export interface PsiReport {
  enabled: boolean;
  available: boolean;
  /** why PSI is not available */
  reason?: string;
  units: { avg: string; total_seconds: string };
  cycle?: number;
  time?: string;
  cgroup2?: { directory: string; origin: string };
  host?: Partial<Record<HostResource, PressureJson>>;
  groups?: Array<{
    groupname: string;
    labels: Record<string, string>;
    cgroups: Record<string, { namespace?: string; pod?: string; container?: string } & Partial<Record<CgroupResource, PressureJson>>>;
  }>;
}

interface Metrics {
  waiting: Counter;
  stalled: Counter;
  ratio: Gauge | undefined;
  hostWaiting: Counter;
  hostStalled: Counter;
  hostRatio: Gauge | undefined;
}

export class PsiCollector implements Collector {
  readonly name = 'psi';
  private readonly options: PsiCollectorOptions;
  private readonly host: Host;
  private readonly groupLabelNames: readonly string[];
  /** container labels not already carried by the group's own labels (those win) */
  private readonly containerLabelNames: readonly string[];
  private readonly recheckCycles: number;
  private readonly log: Logger;
  private readonly logged = new Set<string>();
  private metrics: Metrics | undefined;
  private readonly memberCgroups = new Map<string, { path: string | undefined; readAt: number; seenAt: number }>();
  private reading: Reading | undefined;
  private unavailable: string | undefined;
  /** each cgroup's pressure at the last reading: the start of the next interval */
  private previous = new Map<string, { timeMs: number; pressure: CgroupPressure }>();
  /** per group (groupKey), its stall shares over the last interval */
  private shares = new Map<string, GroupPressureView>();

  constructor(options: PsiCollectorOptions) {
    this.options = options;
    this.host = options.host;
    this.groupLabelNames = options.groupLabelNames ?? [];
    const reserved = this.groupLabelNames.filter((n) => RESERVED_LABEL_NAMES.includes(n));
    if (reserved.length > 0) {
      throw new ExporterError('CONFIG_INVALID', `group label ${reserved.map((n) => `"${n}"`).join(', ')} clashes with a label of the PSI metrics`);
    }
    this.containerLabelNames = CONTAINER_LABELS.filter((n) => !this.groupLabelNames.includes(n));
    this.recheckCycles = Math.max(1, options.cgroupRecheckCycles ?? 1);
    this.log = options.log ?? createLogger({ level: 'warn' });
  }

  register(registry: Registry): void {
    if (!this.options.enabled) return;
    const series = ['groupname', ...this.groupLabelNames, 'resource', 'cgroup', ...this.containerLabelNames];
    const registers = [registry];
    this.metrics = {
      waiting: new Counter({
        name: 'namedprocess_namegroup_pressure_waiting_seconds_total',
        help: 'PSI "some": seconds in which at least one task of the cgroup (where the group has processes) was stalled on the resource',
        labelNames: series,
        registers,
      }),
      stalled: new Counter({
        name: 'namedprocess_namegroup_pressure_stalled_seconds_total',
        help: 'PSI "full": seconds in which all non-idle tasks of the cgroup (where the group has processes) were stalled on the resource at once',
        labelNames: series,
        registers,
      }),
      ratio: this.options.averages
        ? new Gauge({
          name: 'namedprocess_namegroup_pressure_ratio',
          help: 'PSI average share of time stalled (0..1) of the cgroup where the group has processes, by kind (some/full) and window',
          labelNames: [...series, 'kind', 'window'],
          registers,
        })
        : undefined,
      hostWaiting: new Counter({
        name: 'procgroup_exporter_host_pressure_waiting_seconds_total',
        help: 'PSI "some" of the host (/proc/pressure): seconds in which at least one task was stalled on the resource',
        labelNames: ['resource'],
        registers,
      }),
      hostStalled: new Counter({
        name: 'procgroup_exporter_host_pressure_stalled_seconds_total',
        help: 'PSI "full" of the host (/proc/pressure): seconds in which all non-idle tasks were stalled on the resource at once',
        labelNames: ['resource'],
        registers,
      }),
      hostRatio: this.options.averages
        ? new Gauge({
          name: 'procgroup_exporter_host_pressure_ratio',
          help: 'PSI average share of time stalled (0..1) of the host, by kind (some/full) and window',
          labelNames: ['resource', 'kind', 'window'],
          registers,
        })
        : undefined,
    };
  }

  /**
   * Throws ExporterError PSI_UNAVAILABLE, with the fix in its message, when the host has no usable PSI;
   * the caller logs it once per distinct message (Collection does) and sets the success gauge to 0.
   */
  update(cycle: CycleSnapshot): void {
    if (!this.options.enabled) return;
    let reading: Reading;
    try {
      reading = this.read(cycle);
    } catch (err) {
      this.reading = undefined;
      this.previous.clear();
      this.shares.clear();
      this.unavailable = err instanceof Error ? err.message : String(err);
      throw err;
    }
    this.unavailable = undefined;
    this.reading = reading;
    this.shares = this.stallShares(reading);
    this.previous = new Map(reading.groups.flatMap((g) => g.cgroups.map((c) => [c.path, { timeMs: reading.timeMs, pressure: c.pressure }] as const)));
    this.export(reading);
  }

  /** The group's PSI over the last interval, for the groups view; undefined when PSI is off or unreadable. */
  groupPressure(group: Pick<GroupSnapshot, 'name' | 'labels'>): GroupPressureView | undefined {
    return this.shares.get(groupKey(group));
  }

  /** per group, the share of the interval since the previous reading stalled, the worst of its cgroups */
  private stallShares(r: Reading): Map<string, GroupPressureView> {
    const out = new Map<string, GroupPressureView>();
    for (const g of r.groups) {
      const view: GroupPressureView = {};
      for (const resource of CGROUP_RESOURCES) view[resource] = { some: null, full: null };
      for (const c of g.cgroups) {
        const prev = this.previous.get(c.path);
        const intervalUs = prev ? (r.timeMs - prev.timeMs) * 1000 : 0;
        if (!prev || intervalUs <= 0) continue;
        for (const [resource, p] of entries(c.pressure)) {
          const share = view[resource];
          if (!share) continue;
          for (const kind of ['some', 'full'] as const) {
            const now = p[kind];
            const then = prev.pressure[resource]?.[kind];
            if (!now || !then) continue;
            // a cgroup re-created under the same path starts again from 0: clamp
            const s = Math.min(1, Math.max(0, (now.totalMicroseconds - then.totalMicroseconds) / intervalUs));
            share[kind] = Math.max(share[kind] ?? 0, s);
          }
        }
      }
      out.set(groupKey(g.group), view);
    }
    return out;
  }

  reset(): void {
    const m = this.metrics;
    if (!m) return;
    for (const metric of [m.waiting, m.stalled, m.ratio, m.hostWaiting, m.hostStalled, m.hostRatio]) metric?.reset();
  }

  /** The last cycle's pressure as plain data, for /psi. */
  report(): PsiReport {
    const units = { avg: 'ratio of time stalled (0..1)', total_seconds: 'seconds stalled since the cgroup (or boot) began' };
    if (!this.options.enabled) return { enabled: false, available: false, reason: 'the psi collector is disabled (psi.enabled)', units };
    const r = this.reading;
    if (!r) {
      return { enabled: true, available: false, reason: this.unavailable ?? 'no collection cycle has run yet', units };
    }
    return {
      enabled: true,
      available: true,
      units,
      cycle: r.cycle,
      time: new Date(r.timeMs).toISOString(),
      cgroup2: { directory: r.mount.directory, origin: r.mount.origin },
      host: mapResources(r.host, pressureJson),
      groups: r.groups.map((g) => ({
        groupname: g.group.name,
        labels: { ...g.group.labels },
        cgroups: Object.fromEntries(g.cgroups.map((c) => [c.path, { ...containerLabels(c.container, CONTAINER_LABELS), ...mapResources(c.pressure, pressureJson) }])),
      })),
    };
  }

  private read(cycle: CycleSnapshot): Reading {
    const host = this.readHost();
    const mount = this.cgroup2Mount();
    const cgroups = new Map<string, CgroupReading | undefined>();
    const groups: GroupReading[] = [];
    for (const group of cycle.groups) {
      const paths = new Set<string>();
      for (const member of group.members) {
        const cgroupPath = this.memberCgroup(member, cycle.cycle);
        if (cgroupPath === undefined) continue;
        const resolved = resolveCgroup(mount, cgroupPath);
        if (!resolved) {
          // e.g. a container's own cgroup2 mount, which shows only its subtree, on a hostPID pod
          this.warnOnce('outside-mount', `psi: cgroup ${cgroupPath} of pid ${member.pid} is outside the cgroup2 mount ${mount.directory} ` +
            `(mount root ${mount.root}); mount the host's /sys (or /) and point the rootfs path at it`);
          continue;
        }
        if (!cgroups.has(resolved.path)) cgroups.set(resolved.path, this.readCgroup(resolved.path, resolved.directory));
        paths.add(resolved.path);
      }
      const readings = [...paths].sort().flatMap((p) => cgroups.get(p) ?? []);
      groups.push({ group, cgroups: readings });
    }
    for (const [key, entry] of this.memberCgroups) {
      if (entry.seenAt !== cycle.cycle) this.memberCgroups.delete(key);
    }
    return { cycle: cycle.cycle, timeMs: cycle.timeMs, mount, host, groups };
  }

  private readHost(): HostPressure {
    const host: HostPressure = {};
    for (const resource of HOST_RESOURCES) {
      const file = this.host.hostPressurePath(resource);
      let pressure: Pressure | undefined;
      try {
        pressure = this.host.readPressure(file);
      } catch (err) {
        const unsupported = err instanceof ProcReadError && err.errno === 'EOPNOTSUPP';
        if (unsupported && resource === 'cpu') throw kernelPsiOff(file, err);
        // memory/io/irq refused while cpu works (e.g. irq with irq time accounting off): that resource only
        if (unsupported) continue;
        throw new ExporterError('PSI_UNAVAILABLE', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
      }
      if (!pressure) {
        if (resource === 'cpu') throw kernelPsiOff(file);
        continue;
      }
      // system-wide cpu "full" is undefined; kernels >= 5.13 print a constant 0 for it
      host[resource] = resource === 'cpu' ? { some: pressure.some, full: undefined } : pressure;
    }
    return host;
  }

  private cgroup2Mount(): Cgroup2Mount {
    try {
      return this.host.cgroup2Mount();
    } catch (err) {
      if (err instanceof ExporterError && err.code === 'CGROUP2_UNAVAILABLE') throw new ExporterError('PSI_UNAVAILABLE', err.message, { cause: err });
      throw err;
    }
  }

  private memberCgroup(member: ProcessMember, cycle: number): string | undefined {
    const key = `${member.pid}:${member.startTime}`;
    const cached = this.memberCgroups.get(key);
    if (cached && cycle - cached.readAt < this.recheckCycles) {
      cached.seenAt = cycle;
      return cached.path;
    }
    let cgroupPath: string | undefined;
    try {
      const parsed = this.host.pidCgroup(member.pid);
      if (!parsed) return undefined; // exited
      cgroupPath = parsed.v2Path;
    } catch (err) {
      this.warnOnce(`pid-cgroup:${errorKey(err)}`, 'psi: cannot re-read a process cgroup; using the one recorded when it was first seen', err);
      cgroupPath = member.cgroupPath;
    }
    this.memberCgroups.set(key, { path: cgroupPath, readAt: cycle, seenAt: cycle });
    return cgroupPath;
  }

  /** undefined when the cgroup vanished mid-read (or has its PSI switched off) */
  private readCgroup(cgroupPath: string, directory: string): CgroupReading | undefined {
    const pressure: CgroupPressure = {};
    for (const resource of CGROUP_RESOURCES) {
      let p: Pressure | undefined;
      try {
        p = this.host.readPressure(`${directory}/${resource}.pressure`);
      } catch (err) {
        if (err instanceof ProcReadError && GONE_ERRNOS.has(err.errno)) return undefined;
        if (!(err instanceof ProcReadError || err instanceof ParseError)) throw err;
        this.warnOnce(`cgroup:${errorKey(err)}`, `psi: skipping cgroup ${cgroupPath}`, err);
        return undefined;
      }
      if (!p) return undefined;
      pressure[resource] = p;
    }
    return { path: cgroupPath, container: (this.options.resolveContainer ?? this.host.resolveContainer)(cgroupPath), pressure };
  }

  private export(r: Reading): void {
    const m = this.metrics;
    if (!m) return;
    this.reset();
    for (const [resource, p] of entries(r.host)) {
      setLine(m.hostWaiting, m.hostStalled, m.hostRatio, { resource }, p.some, p.full);
    }
    for (const g of r.groups) {
      for (const c of g.cgroups) {
        const labels: Record<string, string> = {
          ...groupLabels(g.group, this.groupLabelNames),
          cgroup: c.path,
          ...containerLabels(c.container, this.containerLabelNames),
        };
        for (const [resource, p] of entries(c.pressure)) {
          setLine(m.waiting, m.stalled, m.ratio, { ...labels, resource }, p.some, p.full);
        }
      }
    }
  }

  /** once per kind of problem for the life of the collector: a node has many cgroups */
  private warnOnce(key: string, msg: string, err?: unknown): void {
    if (this.logged.has(key)) return;
    this.logged.add(key);
    this.log.warn(msg, { err });
  }
}

const groupKey = (g: Pick<GroupSnapshot, 'name' | 'labels'>): string => JSON.stringify([g.name, g.labels]);

function kernelPsiOff(file: string, cause?: unknown): ExporterError {
  return new ExporterError('PSI_UNAVAILABLE',
    `${file} is ${cause ? 'not supported' : 'missing'}: the kernel has PSI disabled ` +
    '(boot with the kernel argument psi=1; on OpenShift/RHCOS add it with a MachineConfig)', { cause });
}

function setLine(
  waiting: Counter, stalled: Counter, ratio: Gauge | undefined, labels: Record<string, string>,
  some: PressureLine | undefined, full: PressureLine | undefined,
): void {
  if (some) waiting.inc(labels, some.totalMicroseconds / 1e6);
  if (full) stalled.inc(labels, full.totalMicroseconds / 1e6);
  if (!ratio) return;
  for (const [kind, line] of [['some', some], ['full', full]] as const) {
    if (!line) continue;
    for (const [window, field] of WINDOWS) ratio.set({ ...labels, kind, window }, percentToRatio(line[field]));
  }
}

/** the kernel prints percentages with two decimals: keep exactly four as a ratio (97.73 -> 0.9773, not 0.9773000000000001) */
function percentToRatio(percent: number): number {
  return Math.round(percent * 100) / 10000;
}

function pressureJson(p: Pressure): PressureJson {
  const out: PressureJson = {};
  for (const kind of ['some', 'full'] as const) {
    const line = p[kind];
    if (line) {
      out[kind] = {
        avg10: percentToRatio(line.avg10Percent),
        avg60: percentToRatio(line.avg60Percent),
        avg300: percentToRatio(line.avg300Percent),
        total_seconds: line.totalMicroseconds / 1e6,
      };
    }
  }
  return out;
}

function entries<K extends string, V>(record: Partial<Record<K, V>>): Array<[K, V]> {
  return Object.entries(record) as Array<[K, V]>;
}

function mapResources<K extends string, V, W>(record: Partial<Record<K, V>>, f: (v: V) => W): Partial<Record<K, W>> {
  return Object.fromEntries(entries(record).map(([k, v]) => [k, f(v)])) as Partial<Record<K, W>>;
}

/** the known names among namespace/pod/container; an unknown name is left out rather than exported empty */
function containerLabels(identity: ContainerIdentity | undefined, names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  if (!identity) return out;
  for (const name of names) {
    const value = identity[name as (typeof CONTAINER_LABELS)[number]];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

function errorKey(err: unknown): string {
  return err instanceof ProcReadError ? err.errno : err instanceof ExporterError ? err.code : 'other';
}
