import { Gauge, type Registry } from 'prom-client';
import type { Collector } from './collector.js';

const NAME = 'procgroup_exporter_series';

/**
 * Series per metric family, so users see what costs (thread families are usually the bulk).
 * Runs after the other collectors of the cycle; counts every family of the collection registry
 * except itself (the exporter's own process_ and nodejs_ families are a fixed few dozen).
 */
export class SeriesCollector implements Collector {
  readonly name = 'series';
  private registry!: Registry;
  private gauge!: Gauge;

  register(registry: Registry): void {
    this.registry = registry;
    this.gauge = new Gauge({ name: NAME, help: 'Series exported per metric family in the last cycle', labelNames: ['family'], registers: [registry] });
  }

  async update(): Promise<void> {
    const counts: Array<[string, number]> = [];
    for (const { name } of this.registry.getMetricsAsArray()) {
      const metric = name === NAME ? undefined : this.registry.getSingleMetric(name);
      if (metric) counts.push([name, (await metric.get()).values.length]);
    }
    this.gauge.reset();
    for (const [family, n] of counts) this.gauge.set({ family }, n);
  }

  reset(): void {
    this.gauge.reset();
  }
}
