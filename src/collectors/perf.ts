/**
 * perf collector: hardware, software and cache event counts per group through perf_event_open.
 *
 * Each group is counted in one scope (src/perf/options.ts): per process (task scope: one counter per
 * thread and event, inherited by threads created later; see src/perf/task-scope.ts for what is
 * inherited and when) or, for container groups, per container cgroup (one counter per CPU and event).
 * Every cycle reads each counter's delta, scaled by time_enabled/time_running when the PMU
 * multiplexed it, and adds it to the group's accumulator: the exported counters never decrease, and a
 * process's counts stay in its group after it exits (its counters are read one last time, then closed).
 *
 * Events the machine does not support (hardware events in most VMs) are probed once at start,
 * logged once, exported as procgroup_exporter_perf_event_supported{event} 0 and skipped. The fds
 * stay within perf.max_fds (and the process's open-file limit): a group that does not fit is skipped
 * whole rather than counted in part, and counted again once it fits.
 *
 * Which scope each group gets, what is opened and closed, and which groups are skipped is decided in
 * src/perf/policy.ts; this file probes the machine, applies those decisions through the counter
 * scopes, and renders the series.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Cgroup2Mount } from '../cgroup/mountinfo.js';
import { ExporterError, isProcessGone } from '../errors.js';
import { createLogger, type Logger } from '../log.js';
import type { CycleSnapshot, GroupSnapshot, ProcessMember } from '../grouper/snapshot.js';
import { PerfType, encodeAttr, COUNTING_READ_FORMAT, type PerfEventAttr } from '../perf/attr.js';
import { CgroupScope, readOnlineCpus, type CgroupTarget } from '../perf/cgroup-scope.js';
import { DeltaSums, FdBudget, isFdLimit, openableEvents } from '../perf/counter-set.js';
import { DEFAULT_EVENTS, type PerfEventSpec } from '../perf/events.js';
import { resolveEvents, type PerfInherit, type PerfOptions } from '../perf/options.js';
import { PerfPolicy, type PolicyCapabilities, type PolicyGroup, type ScopeNotice } from '../perf/policy.js';
import { PERF_SYSCALLS, PerfError, type PerfSyscalls } from '../perf/syscall.js';
import { TaskScope, identityKey } from '../perf/task-scope.js';
import type { Host } from '../host/host.js';
import type { Collector } from './collector.js';

export interface PerfCollectorOptions extends PerfOptions {
  /** reads members' threads and cgroups and finds the cgroup2 mount */
  host: Host;
  /** label names every group carries besides groupname (ProcessMatcher.labelNames) */
  groupLabelNames?: readonly string[] | undefined;
  /** problems are logged once each; default: warnings to stderr */
  log?: Logger | undefined;
  /** perf_event_open, read and close; default: the kernel's (the unit test counts without them) */
  syscalls?: PerfSyscalls | undefined;
}

interface GroupAccumulator {
  name: string;
  labels: Record<string, string>;
  /** per event, in the kernel's unit (ns for time events) */
  totals: Float64Array;
  /** time_running / time_enabled of the last cycle in which the group's counters ran */
  ratio: number;
}

interface Metrics {
  events: Map<PerfEventSpec, Counter>;
  ratio: Gauge;
  supported: Gauge;
  openFds: Gauge;
  maxFds: Gauge;
  skipped: Counter;
  openErrors: Counter;
}

/** What start-up found out about this machine. */
interface Capabilities {
  /** requested events that can be counted here, in request order */
  events: PerfEventSpec[];
  inherit: PerfInherit;
  task: TaskScope;
  cgroup: CgroupScope | undefined;
  cgroupMount: Cgroup2Mount | undefined;
  /** pids in procfsRoot are pids perf_event_open understands (same PID namespace) */
  tasksVisible: boolean;
}

/** fds left for everything else the exporter opens (sockets, /proc files) below RLIMIT_NOFILE */
const FD_RESERVE = 256;

export class PerfCollector implements Collector {
  readonly name = 'perf';
  private readonly options: PerfCollectorOptions;
  private readonly requested: PerfEventSpec[];
  private readonly groupLabelNames: readonly string[];
  private readonly host: Host;
  private readonly log: Logger;
  private readonly logged = new Set<string>();
  private readonly budget: FdBudget;
  private readonly syscalls: PerfSyscalls;
  private readonly policy: PerfPolicy;
  private registry: Registry | undefined;
  private metrics: Metrics | undefined;
  private caps: Capabilities | undefined;
  private unavailable: ExporterError | undefined;
  private readonly supported = new Map<string, boolean>();
  private readonly groups = new Map<string, GroupAccumulator>();
  /** cgroup v2 path of members the snapshot has none for, read once per identity */
  private readonly memberCgroups = new Map<string, string | undefined>();

  constructor(options: PerfCollectorOptions) {
    this.options = options;
    this.requested = resolveEvents(options.events ?? DEFAULT_EVENTS, 'perf.events');
    this.groupLabelNames = options.groupLabelNames ?? [];
    this.host = options.host;
    this.log = options.log ?? createLogger({ level: 'warn' });
    this.budget = new FdBudget(effectiveMaxFds(options.maxFds, this.host, this.log));
    this.syscalls = options.syscalls ?? PERF_SYSCALLS;
    this.policy = new PerfPolicy({ scope: options.scope, kubeletCgroupRoot: this.host.kubeletCgroupRoot });
  }

  /** perf fds open now */
  get openFds(): number {
    return this.budget.used;
  }

  /** the inheritance actually in use (threads falls back to tree on kernels without inherit_thread) */
  get inherit(): PerfInherit | undefined {
    return this.caps?.inherit;
  }

  register(registry: Registry): void {
    if (!this.options.enabled) return;
    this.registry = registry;
    const registers = [registry];
    const groupLabels = ['groupname', ...this.groupLabelNames];
    this.metrics = {
      events: new Map(),
      ratio: new Gauge({
        name: 'namedprocess_namegroup_perf_scaling_ratio',
        help: 'time_running / time_enabled of the group\'s perf counters in the last cycle they ran: below 1 when the PMU multiplexed them and counts are scaled estimates',
        labelNames: groupLabels,
        registers,
      }),
      supported: new Gauge({
        name: 'procgroup_exporter_perf_event_supported',
        help: '1 when perf_event_open accepts the configured event on this machine, 0 when it does not (it is then skipped)',
        labelNames: ['event'],
        registers,
      }),
      openFds: new Gauge({ name: 'procgroup_exporter_perf_open_fds', help: 'perf counter file descriptors open', registers }),
      maxFds: new Gauge({ name: 'procgroup_exporter_perf_max_fds', help: 'most perf counter file descriptors the collector opens (perf.max_fds, capped by the open-file limit)', registers }),
      skipped: new Counter({
        name: 'procgroup_exporter_perf_groups_skipped_total',
        help: 'Cycles in which the group got no perf counts because its counters did not fit in perf.max_fds',
        labelNames: groupLabels,
        registers,
      }),
      openErrors: new Counter({
        name: 'procgroup_exporter_perf_open_errors_total',
        help: 'Processes or cgroups whose perf counters could not be opened, by error code (not counting processes that exited)',
        labelNames: ['code'],
        registers,
      }),
    };
  }

  update(cycle: CycleSnapshot): void {
    if (!this.options.enabled) return;
    const caps = this.start();
    const active = new Map<string, GroupSnapshot>(cycle.groups.map((g) => [g.key, g]));
    const capabilities = policyCapabilities(caps);
    const plan = this.policy.plan(this.policyGroups(cycle, capabilities), capabilities);
    for (const notice of plan.notices) this.warnOnce(`shared:${notice.groupKey}`, sharedMessage(notice));

    const cycleTimes = new Map<string, { enabled: number; running: number }>();
    const sink = (groupKey: string, d: DeltaSums): void => {
      const acc = this.groups.get(groupKey);
      if (!acc) return;
      for (let i = 0; i < acc.totals.length; i++) acc.totals[i] = (acc.totals[i] ?? 0) + (d.values[i] ?? 0);
      const t = cycleTimes.get(groupKey) ?? { enabled: 0, running: 0 };
      t.enabled += d.enabled;
      t.running += d.running;
      cycleTimes.set(groupKey, t);
    };
    caps.task.read(plan.keepTasks, sink);
    caps.cgroup?.read(plan.keepCgroups, sink);
    for (const [key, t] of cycleTimes) {
      const acc = this.groups.get(key);
      if (acc && t.enabled > 0) acc.ratio = Math.min(1, t.running / t.enabled);
    }

    const steps = this.policy.opens(plan, {
      hasTask: (id) => caps.task.has(id),
      hasCgroup: (p, key) => caps.cgroup?.has(p, key) === true,
    });
    for (const step of steps) {
      // cgroup scope went off while an earlier group's cgroup was opened: the group waits for the next cycle
      if (step.cgroups.length > 0 && !caps.cgroup) continue;
      const g = active.get(step.groupKey) as GroupSnapshot;
      const admission = this.policy.admit(step, this.budget);
      if (!admission.open) {
        this.skip(g, caps, admission.reason);
        continue;
      }
      if (!this.groups.has(g.key)) {
        this.groups.set(g.key, { name: g.name, labels: this.labelsOf(g), totals: new Float64Array(caps.events.length), ratio: 1 });
      }
      try {
        for (const m of step.tasks) this.openMember(m, g.key, caps);
        for (const t of step.cgroups) this.openCgroup(t, caps);
      } catch (err) {
        if (!isFdLimit(err)) throw err;
        this.policy.skip(g.key);
        this.skip(g, caps, (err as Error).message);
        continue;
      }
      if (this.policy.opened(g.key)) {
        this.log.info('perf: group fits in the fd budget again and is counted', { group: g.name });
        this.logged.delete(`skip:${g.key}`);
      }
    }

    this.policy.endCycle(cycle.groups);
    for (const key of [...this.groups.keys()]) if (!active.has(key)) this.groups.delete(key);
    if (this.memberCgroups.size > 0) {
      const members = new Set<string>();
      for (const g of cycle.groups) for (const m of g.members) members.add(identityKey(m.pid, m.startTime));
      for (const id of [...this.memberCgroups.keys()]) if (!members.has(id)) this.memberCgroups.delete(id);
    }
    this.export(active);
  }

  /** Drops the group series; procgroup_exporter_perf_event_supported stays: it tells why the collector fails. */
  reset(): void {
    const m = this.metrics;
    if (!m) return;
    for (const metric of [...m.events.values(), m.ratio, m.openFds, m.maxFds, m.skipped, m.openErrors]) metric.reset();
  }

  close(): void {
    this.caps?.task.closeAll();
    this.caps?.cgroup?.closeAll();
  }

  /**
   * Probes the machine on first use. Throws ExporterError PERF_UNAVAILABLE, with the fix in its message,
   * when nothing can be counted; the caller logs it once per distinct message (Collection does).
   */
  private start(): Capabilities {
    if (this.caps) return this.caps;
    if (this.unavailable) throw this.unavailable;
    try {
      this.caps = this.probe();
      return this.caps;
    } catch (err) {
      const e = err instanceof ExporterError && err.code === 'PERF_UNAVAILABLE'
        ? err
        : new ExporterError('PERF_UNAVAILABLE', `perf collector: ${(err as Error).message}`, { cause: err });
      this.unavailable = e;
      this.exportSupported();
      throw e;
    }
  }

  private probe(): Capabilities {
    let inherit = this.options.inherit ?? 'threads';
    if (inherit === 'threads' && !this.accepts(taskClockAttr({ inherit: true, inheritThread: true, excludeHv: true }))) {
      this.log.warn('perf: this kernel has no inherit_thread (Linux < 5.13): perf.inherit=threads falls back to tree ' +
        '(forked children are counted in the group of their counted ancestor)');
      inherit = 'tree';
    }
    if (inherit === 'tree' && !this.host.ownChildrenFileExists()) {
      this.log.warn('perf: /proc/<pid>/task/<tid>/children is missing (kernel without CONFIG_PROC_CHILDREN): ' +
        'children of a counted process are taken to predate its counter, so a child forked later and counted in its parent\'s group may be counted twice');
    }
    const taskFlags: PerfEventAttr['flags'] = { inherit: true, inheritThread: inherit === 'threads', excludeHv: true };
    const events: PerfEventSpec[] = [];
    for (const spec of this.requested) {
      const attr = encodeAttr({ type: spec.type, config: spec.config, readFormat: COUNTING_READ_FORMAT, flags: taskFlags });
      const ok = this.accepts(attr, spec.name);
      this.supported.set(spec.name, ok);
      if (ok) events.push(spec);
    }
    this.exportSupported();
    if (events.length === 0) {
      throw new ExporterError('PERF_UNAVAILABLE', this.requested.length === 0
        ? 'perf collector: no perf events configured (perf.events is empty)'
        : `perf collector: none of the configured perf events (${this.requested.map((e) => e.name).join(', ')}) is supported on this machine`);
    }
    if (this.registry && this.metrics) {
      for (const spec of events) {
        this.metrics.events.set(spec, new Counter({ name: spec.metric, help: spec.help, labelNames: ['groupname', ...this.groupLabelNames], registers: [this.registry] }));
      }
    }
    const task = new TaskScope({ tasks: this.host, events: openableEvents(events, taskFlags), inherit, budget: this.budget, syscalls: this.syscalls });
    let cgroup: CgroupScope | undefined;
    let cgroupMount: Cgroup2Mount | undefined;
    if (this.options.scope !== 'task') {
      try {
        cgroupMount = this.host.cgroup2Mount();
        cgroup = new CgroupScope({
          events: openableEvents(events, { excludeHv: true }),
          cpus: readOnlineCpus(),
          budget: this.budget,
          syscalls: this.syscalls,
          openDirectory: (dir) => this.host.openCgroupDirectory(dir),
        });
      } catch (err) {
        cgroupMount = undefined;
        this.log.warn(`perf: cgroup scope unavailable: ${
          this.options.scope === 'auto' ? 'container groups are counted per process' : 'container groups are not counted'}`, { err });
      }
    }
    const tasksVisible = this.samePidNamespace();
    this.log.info('perf collector counting', {
      events: events.map((e) => e.name).join(','), scope: this.options.scope, inherit, max_fds: this.budget.limit,
    });
    return { events, inherit, task, cgroup, cgroupMount, tasksVisible };
  }

  /**
   * perf_event_open takes pids of the caller's PID namespace; the pids come from procfsRoot. In a
   * container without hostPID they differ (the host's /proc shows this process under another pid):
   * task scope would count the wrong processes, so it is off and only cgroup scope counts.
   */
  private samePidNamespace(): boolean {
    let self: string;
    try {
      self = this.host.selfPid();
    } catch (err) {
      this.log.warn(`perf: cannot read ${this.host.procfsRoot}/self: task scope is off`, { err });
      return false;
    }
    if (self === String(process.pid)) return true;
    this.log.warn('perf: the procfs shows another PID namespace than this process\'s (run with hostPID: true): task scope is off, ' +
      'only container groups are counted (cgroup scope)', { procfs: this.host.procfsRoot, pid_there: self, pid_here: process.pid });
    return false;
  }

  /** true when the kernel opens this attr for the calling thread; PERMISSION_DENIED and the like are thrown */
  private accepts(attr: Buffer, eventName?: string): boolean {
    let fd: number;
    try {
      fd = this.syscalls.open(attr, 0, -1, -1, 0);
    } catch (err) {
      if (err instanceof ExporterError && err.code === 'PERF_EVENT_UNSUPPORTED') {
        if (eventName !== undefined) {
          this.log.warn('perf: event not supported on this machine, skipped (virtual machines usually expose no hardware PMU)', {
            event: eventName, errno: (err as PerfError).errno,
          });
        }
        return false;
      }
      if (err instanceof ExporterError && err.code === 'PERMISSION_DENIED') {
        throw new ExporterError('PERF_UNAVAILABLE',
          `perf collector: perf_event_open refused (${(err as PerfError).errno}): the exporter needs CAP_PERFMON (Linux 5.8+) or CAP_SYS_ADMIN, ` +
          `or kernel.perf_event_paranoid <= 1 (it is ${this.host.perfEventParanoid()}) to count kernel time (<= 0 for cgroup counters; other users' processes also need ptrace access such as CAP_SYS_PTRACE); ` +
          'in a container the seccomp profile must allow perf_event_open too (runtime default profiles tie it to those capabilities)', { cause: err });
      }
      if (err instanceof PerfError && err.errno === 'ENOSYS') {
        throw new ExporterError('PERF_UNAVAILABLE',
          'perf collector: perf_event_open does not exist here (ENOSYS): a seccomp profile filters it (the containers/common default profile of CRI-O and Podman, ' +
          'until late 2025, allowed it only with both CAP_SYS_ADMIN and CAP_PERFMON), or the kernel has no CONFIG_PERF_EVENTS', { cause: err });
      }
      throw err;
    }
    this.syscalls.close(fd);
    return true;
  }

  /** The snapshot's groups, with each member's cgroup path read where the snapshot has none and the policy needs it. */
  private policyGroups(cycle: CycleSnapshot, capabilities: PolicyCapabilities): ReadonlyArray<PolicyGroup<ProcessMember>> {
    if (!this.policy.wantsCgroups(capabilities)) return cycle.groups;
    return cycle.groups.map((g) => ({
      key: g.key,
      name: g.name,
      members: g.members.map((m) => (m.cgroupPath !== undefined ? m : { ...m, cgroupPath: this.cgroupOf(m) })),
    }));
  }

  private cgroupOf(m: ProcessMember): string | undefined {
    if (m.cgroupPath !== undefined) return m.cgroupPath;
    const id = identityKey(m.pid, m.startTime);
    if (this.memberCgroups.has(id)) return this.memberCgroups.get(id);
    let p: string | undefined;
    try {
      p = this.host.pidCgroup(m.pid)?.v2Path;
    } catch (err) {
      this.warnOnce(`pid-cgroup:${(err as ExporterError).code ?? 'error'}`, 'perf: cannot read a process\'s cgroup', { err });
    }
    this.memberCgroups.set(id, p);
    return p;
  }

  private openMember(m: ProcessMember, groupKey: string, caps: Capabilities): void {
    try {
      caps.task.open({ pid: m.pid, startTime: m.startTime, groupKey });
    } catch (err) {
      if (isFdLimit(err)) throw err;
      if (isProcessGone(err)) return;
      this.openFailed(identityKey(m.pid, m.startTime), `pid ${m.pid} (${m.comm})`, err);
    }
  }

  /** A cgroup that exists but cannot be counted means the kernel cannot (no CONFIG_CGROUP_PERF, perf_event on a v1 hierarchy): cgroup scope goes off. */
  private openCgroup(t: CgroupTarget, caps: Capabilities): void {
    const scope = caps.cgroup;
    if (!scope) return;
    try {
      scope.open(t);
    } catch (err) {
      if (isFdLimit(err)) throw err;
      this.metrics?.openErrors.inc({ code: err instanceof ExporterError ? err.code : 'UNKNOWN' });
      this.log.warn(`perf: cannot count cgroup ${t.path}; cgroup scope is off, container groups are ${
        this.options.scope === 'auto' ? 'counted per process from the next cycle' : 'not counted'}`, { err });
      scope.closeAll();
      caps.cgroup = undefined;
      caps.cgroupMount = undefined;
    }
  }

  private openFailed(id: string, what: string, err: unknown): void {
    const code = err instanceof ExporterError ? err.code : 'UNKNOWN';
    this.policy.openFailed(id);
    this.metrics?.openErrors.inc({ code });
    this.warnOnce(`open:${code}`, `perf: cannot count ${what} (further ${code} errors are only counted in procgroup_exporter_perf_open_errors_total)`, { err });
  }

  /** Closes a group the policy skipped. */
  private skip(g: GroupSnapshot, caps: Capabilities, why: string): void {
    caps.task.closeGroup(g.key);
    caps.cgroup?.closeGroup(g.key);
    this.warnOnce(`skip:${g.key}`, `perf: group ${g.name} skipped until its counters fit in perf.max_fds: ${why}`);
  }

  private labelsOf(g: GroupSnapshot): Record<string, string> {
    const labels: Record<string, string> = { groupname: g.name };
    for (const name of this.groupLabelNames) labels[name] = g.labels[name] ?? '';
    return labels;
  }

  private exportSupported(): void {
    const m = this.metrics;
    if (!m) return;
    for (const spec of this.requested) m.supported.set({ event: spec.name }, this.supported.get(spec.name) === true ? 1 : 0);
  }

  private export(active: ReadonlyMap<string, GroupSnapshot>): void {
    const m = this.metrics;
    const caps = this.caps;
    if (!m || !caps) return;
    for (const c of m.events.values()) c.reset();
    m.ratio.reset();
    m.skipped.reset();
    for (const [key, acc] of this.groups) {
      if (this.policy.isSkipped(key)) continue;
      caps.events.forEach((spec, i) => {
        const total = acc.totals[i] ?? 0;
        m.events.get(spec)?.inc(acc.labels, spec.nanoseconds ? total / 1e9 : total);
      });
      m.ratio.set(acc.labels, acc.ratio);
    }
    for (const [key, cycles] of this.policy.skipCounts) {
      const g = active.get(key);
      if (g) m.skipped.inc(this.labelsOf(g), cycles);
    }
    m.openFds.set(this.budget.used);
    m.maxFds.set(this.budget.limit);
    this.exportSupported();
  }

  private warnOnce(key: string, msg: string, fields?: Record<string, unknown>): void {
    if (this.logged.has(key)) return;
    this.logged.add(key);
    this.log.warn(msg, fields);
  }
}

function policyCapabilities(caps: Capabilities): PolicyCapabilities {
  return {
    events: caps.events.length,
    tasksVisible: caps.tasksVisible,
    cgroup: caps.cgroup && caps.cgroupMount ? { mount: caps.cgroupMount, fdsPerCgroup: caps.cgroup.fdsPerCgroup } : undefined,
  };
}

function sharedMessage(n: ScopeNotice): string {
  return `perf: group ${n.groupName}: ${n.reason === 'shared'
    ? 'its container cgroups also hold processes of other groups'
    : 'its container cgroups are not visible under the cgroup2 mount'}, so it is ${n.fallback === 'task' ? 'counted per process' : 'not counted'}`;
}

function taskClockAttr(flags: PerfEventAttr['flags']): Buffer {
  return encodeAttr({ type: PerfType.SOFTWARE, config: 1n, readFormat: COUNTING_READ_FORMAT, flags });
}

/** perf.max_fds, capped to the soft RLIMIT_NOFILE less a reserve for sockets and /proc reads */
function effectiveMaxFds(maxFds: number, host: Host, log: Logger): number {
  const soft = host.ownOpenFilesLimit();
  if (maxFds <= soft - FD_RESERVE) return maxFds;
  const capped = Math.max(0, soft - FD_RESERVE);
  log.warn(`perf: perf.max_fds=${maxFds} lowered to ${capped}: the open-file limit (ulimit -n) is ${soft}`);
  return capped;
}
