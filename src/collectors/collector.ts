import type { Registry } from 'prom-client';
import type { CycleSnapshot } from '../grouper/snapshot.js';

/**
 * One family of metrics, node_exporter style. `update` runs after each collection cycle; when it
 * throws, the scrape still succeeds, `reset` drops this collector's series so nothing stale is
 * served, and procgroup_exporter_scrape_collector_success{collector=name} reads 0.
 */
export interface Collector {
  readonly name: string;
  /** create and register this collector's metrics */
  register(registry: Registry): void;
  update(cycle: CycleSnapshot): void | Promise<void>;
  reset(): void;
  /** release fds, timers (perf counters) */
  close?(): void | Promise<void>;
}
