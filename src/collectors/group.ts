import { Counter, Gauge, type Registry } from 'prom-client';
import type { CycleSnapshot, GroupSnapshot } from '../grouper/snapshot.js';
import { DELAY_KINDS } from '../taskstats/exit-record.js';
import type { Collector } from './collector.js';

type Labels = Record<string, string>;

export interface GroupCollectorOptions {
  /** extra label names from the config rules, added after groupname */
  labelNames: readonly string[];
  gatherSmaps: boolean;
  /** namedprocess_namegroup_threads_wchan (default off: -collector.wchan) */
  wchan?: boolean;
  /** process-exporter's output (-compat=process-exporter): no process churn or delay families, start times in whole seconds */
  processExporterOnly?: boolean;
}

/** Labels of a group's series: groupname plus the rule's extra labels ("" where a rule lacks one). */
export function groupLabels(g: GroupSnapshot, labelNames: readonly string[]): Labels {
  const labels: Labels = { groupname: g.name };
  for (const name of labelNames) labels[name] = g.labels[name] ?? '';
  return labels;
}

/** process-exporter's per-group families, same names, types, labels and help texts as 0.7.10. */
export class GroupCollector implements Collector {
  readonly name = 'group';
  private metrics: Array<Counter | Gauge> = [];
  private m!: {
    numProcs: Gauge;
    cpu: Counter;
    readBytes: Counter;
    writeBytes: Counter;
    majorFaults: Counter;
    minorFaults: Counter;
    ctxSwitches: Counter;
    memory: Gauge;
    openFds: Gauge;
    worstFdRatio: Gauge;
    startTime: Gauge;
    numThreads: Gauge;
    states: Gauge;
    started: Counter | undefined;
    exited: Counter | undefined;
    delay: Counter | undefined;
    wchan: Gauge | undefined;
  };

  constructor(private readonly opts: GroupCollectorOptions) {}

  register(registry: Registry): void {
    const base = ['groupname', ...this.opts.labelNames];
    const registers = [registry];
    const gauge = (name: string, help: string, extra: string[] = []): Gauge => new Gauge({ name, help, labelNames: [...base, ...extra], registers });
    const counter = (name: string, help: string, extra: string[] = []): Counter => new Counter({ name, help, labelNames: [...base, ...extra], registers });
    const p = 'namedprocess_namegroup_';
    const extensions = !this.opts.processExporterOnly;
    this.m = {
      numProcs: gauge(`${p}num_procs`, 'number of processes in this group'),
      cpu: counter(`${p}cpu_seconds_total`, 'Cpu user usage in seconds', ['mode']),
      readBytes: counter(`${p}read_bytes_total`, 'number of bytes read by this group'),
      writeBytes: counter(`${p}write_bytes_total`, 'number of bytes written by this group'),
      majorFaults: counter(`${p}major_page_faults_total`, 'Major page faults'),
      minorFaults: counter(`${p}minor_page_faults_total`, 'Minor page faults'),
      ctxSwitches: counter(`${p}context_switches_total`, 'Context switches', ['ctxswitchtype']),
      memory: gauge(`${p}memory_bytes`, 'number of bytes of memory in use', ['memtype']),
      openFds: gauge(`${p}open_filedesc`, 'number of open file descriptors for this group'),
      worstFdRatio: gauge(`${p}worst_fd_ratio`, 'the worst (closest to 1) ratio between open fds and max fds among all procs in this group'),
      startTime: gauge(`${p}oldest_start_time_seconds`, 'start time in seconds since 1970/01/01 of oldest process in group'),
      numThreads: gauge(`${p}num_threads`, 'Number of threads'),
      states: gauge(`${p}states`, 'Number of processes in states Running, Sleeping, Waiting, Zombie, or Other', ['state']),
      started: extensions ? counter(`${p}processes_started_total`, 'Processes that joined this group after the first cycle, including those known only from their exit records') : undefined,
      exited: extensions ? counter(`${p}processes_exited_total`, 'Processes of this group that exited') : undefined,
      delay: extensions
        ? counter(
            `${p}delay_seconds_total`,
            'Delay accounting of exited tasks from their taskstats exit records: cpu = waiting on a run queue, blkio = synchronous block I/O, swapin, reclaim = direct memory reclaim (all but cpu need kernel.task_delayacct=1)',
            ['kind'],
          )
        : undefined,
      wchan: this.opts.wchan ? gauge(`${p}threads_wchan`, 'Number of threads in this group waiting on each wchan', ['wchan']) : undefined,
    };
    this.metrics = Object.values(this.m).filter((x): x is Counter | Gauge => x !== undefined);
  }

  update(cycle: CycleSnapshot): void {
    this.reset();
    const m = this.m;
    const delayAccounting = cycle.exitRecords?.delayAccounting ?? false;
    for (const g of cycle.groups) {
      const l = groupLabels(g, this.opts.labelNames);
      m.numProcs.set(l, g.numProcs);
      m.cpu.inc({ ...l, mode: 'user' }, g.cpu.user);
      m.cpu.inc({ ...l, mode: 'system' }, g.cpu.system);
      m.readBytes.inc(l, g.readBytes);
      m.writeBytes.inc(l, g.writeBytes);
      m.majorFaults.inc(l, g.majorFaults);
      m.minorFaults.inc(l, g.minorFaults);
      m.ctxSwitches.inc({ ...l, ctxswitchtype: 'voluntary' }, g.voluntaryCtxSwitches);
      m.ctxSwitches.inc({ ...l, ctxswitchtype: 'nonvoluntary' }, g.nonvoluntaryCtxSwitches);
      m.memory.set({ ...l, memtype: 'resident' }, g.memory.resident);
      m.memory.set({ ...l, memtype: 'virtual' }, g.memory.virtual);
      m.memory.set({ ...l, memtype: 'swapped' }, g.memory.swapped);
      if (this.opts.gatherSmaps) {
        m.memory.set({ ...l, memtype: 'proportionalResident' }, g.memory.proportionalResident ?? 0);
        m.memory.set({ ...l, memtype: 'proportionalSwapped' }, g.memory.proportionalSwapped ?? 0);
      }
      m.openFds.set(l, g.openFds);
      m.worstFdRatio.set(l, g.worstFdRatio);
      // an empty group has no oldest process: no series rather than year 1
      // process-exporter truncates to whole seconds; ours keeps the 10 ms of starttime
      if (g.oldestStartTime !== undefined) m.startTime.set(l, this.opts.processExporterOnly ? Math.floor(g.oldestStartTime) : g.oldestStartTime);
      m.numThreads.set(l, g.numThreads);
      m.states.set({ ...l, state: 'Running' }, g.states.running);
      m.states.set({ ...l, state: 'Sleeping' }, g.states.sleeping);
      m.states.set({ ...l, state: 'Waiting' }, g.states.waiting);
      m.states.set({ ...l, state: 'Zombie' }, g.states.zombie);
      m.states.set({ ...l, state: 'Other' }, g.states.other);
      m.started?.inc(l, g.processesStarted);
      m.exited?.inc(l, g.processesExited);
      // run-queue delay is always kept; the others only with kernel.task_delayacct=1
      if (g.delays && m.delay) for (const kind of DELAY_KINDS) if (kind === 'cpu' || delayAccounting) m.delay.inc({ ...l, kind }, g.delays[kind]);
      if (m.wchan) for (const [wchan, n] of g.wchans) m.wchan.set({ ...l, wchan }, n);
    }
  }

  reset(): void {
    for (const metric of this.metrics) metric.reset();
  }
}
