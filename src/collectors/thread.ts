import { Counter, Gauge, type Registry } from 'prom-client';
import type { CycleSnapshot } from '../grouper/snapshot.js';
import type { Collector } from './collector.js';
import { groupLabels } from './group.js';

export interface ThreadCollectorOptions {
  labelNames: readonly string[];
  /** export thread_io_bytes_total and thread_context_switches_total (two more files per thread) */
  details: boolean;
}

/** process-exporter's per-(group, thread name) families. */
export class ThreadCollector implements Collector {
  readonly name = 'thread';
  private metrics: Array<Counter | Gauge> = [];
  private m!: {
    count: Gauge;
    cpu: Counter;
    majorFaults: Counter;
    minorFaults: Counter;
    io: Counter | undefined;
    ctxSwitches: Counter | undefined;
  };

  constructor(private readonly opts: ThreadCollectorOptions) {}

  register(registry: Registry): void {
    const base = ['groupname', ...this.opts.labelNames, 'threadname'];
    const registers = [registry];
    const counter = (name: string, help: string, extra: string[] = []): Counter => new Counter({ name, help, labelNames: [...base, ...extra], registers });
    const p = 'namedprocess_namegroup_thread_';
    this.m = {
      count: new Gauge({ name: `${p}count`, help: 'Number of threads in this group with same threadname', labelNames: base, registers }),
      cpu: counter(`${p}cpu_seconds_total`, 'Cpu user/system usage in seconds', ['mode']),
      majorFaults: counter(`${p}major_page_faults_total`, 'Major page faults for these threads'),
      minorFaults: counter(`${p}minor_page_faults_total`, 'Minor page faults for these threads'),
      io: this.opts.details ? counter(`${p}io_bytes_total`, 'number of bytes read/written by these threads', ['iomode']) : undefined,
      ctxSwitches: this.opts.details ? counter(`${p}context_switches_total`, 'Context switches for these threads', ['ctxswitchtype']) : undefined,
    };
    this.metrics = Object.values(this.m).filter((x): x is Counter | Gauge => x !== undefined);
  }

  update(cycle: CycleSnapshot): void {
    this.reset();
    const m = this.m;
    for (const g of cycle.groups) {
      const gl = groupLabels(g, this.opts.labelNames);
      for (const [threadname, t] of g.threads) {
        const l = { ...gl, threadname };
        m.count.set(l, t.count);
        m.cpu.inc({ ...l, mode: 'user' }, t.cpu.user);
        m.cpu.inc({ ...l, mode: 'system' }, t.cpu.system);
        m.majorFaults.inc(l, t.majorFaults);
        m.minorFaults.inc(l, t.minorFaults);
        m.io?.inc({ ...l, iomode: 'read' }, t.readBytes);
        m.io?.inc({ ...l, iomode: 'write' }, t.writeBytes);
        m.ctxSwitches?.inc({ ...l, ctxswitchtype: 'voluntary' }, t.voluntaryCtxSwitches);
        m.ctxSwitches?.inc({ ...l, ctxswitchtype: 'nonvoluntary' }, t.nonvoluntaryCtxSwitches);
      }
    }
  }

  reset(): void {
    for (const metric of this.metrics) metric.reset();
  }
}
