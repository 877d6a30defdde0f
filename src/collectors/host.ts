import { Counter, type Registry } from 'prom-client';
import type { CycleSnapshot } from '../grouper/snapshot.js';
import type { Collector } from './collector.js';

/**
 * Coverage: the host's process CPU from /proc/stat next to what no group accounts for, so a
 * user sees what the config misses: rate(unaccounted) / rate(host) is the missed share.
 */
export class HostCollector implements Collector {
  readonly name = 'host';
  private hostCpu!: Counter;
  private unaccounted!: Counter;
  private exitRecordsReceived!: Counter;
  private exitRecordsLost!: Counter;

  register(registry: Registry): void {
    this.hostCpu = new Counter({
      name: 'procgroup_exporter_host_cpu_seconds_total',
      help: 'CPU the host spent in processes since boot, from /proc/stat (user = user+nice, system = system)',
      labelNames: ['mode'],
      registers: [registry],
    });
    this.unaccounted = new Counter({
      name: 'procgroup_exporter_unaccounted_cpu_seconds_total',
      help: 'Host process CPU since the exporter started that no group accounts for (host minus all groups, never decreasing)',
      registers: [registry],
    });
    this.exitRecordsReceived = new Counter({
      name: 'procgroup_exporter_exit_records_received_total',
      help: 'taskstats exit records received (one per exiting task); absent without exit records',
      registers: [registry],
    });
    this.exitRecordsLost = new Counter({
      name: 'procgroup_exporter_exit_records_lost_total',
      help: 'taskstats exit records the kernel dropped for a full receive buffer; their CPU is credited through the parents\' cutime',
      registers: [registry],
    });
  }

  update(cycle: CycleSnapshot): void {
    this.reset();
    this.hostCpu.inc({ mode: 'user' }, cycle.host.user);
    this.hostCpu.inc({ mode: 'system' }, cycle.host.system);
    this.unaccounted.inc(cycle.host.unaccounted);
    if (cycle.exitRecords) {
      this.exitRecordsReceived.inc(cycle.exitRecords.received);
      this.exitRecordsLost.inc(cycle.exitRecords.lost);
    }
  }

  reset(): void {
    this.hostCpu.reset();
    this.unaccounted.reset();
    this.exitRecordsReceived.reset();
    this.exitRecordsLost.reset();
  }
}
