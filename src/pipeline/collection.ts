import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Grouper } from '../grouper/grouper.js';
import type { CycleSnapshot } from '../grouper/snapshot.js';
import type { Logger } from '../log.js';
import type { Tracker } from '../tracker/tracker.js';
import type { Collector } from '../collectors/collector.js';

export interface CollectionOptions {
  tracker: Tracker;
  grouper: Grouper;
  collectors: readonly Collector[];
  registry: Registry;
  /** a cycle younger than this is served again instead of walking /proc anew */
  minIntervalMs: number;
  log: Logger;
}

/**
 * Runs collection cycles on demand: single-flight (concurrent scrapes share one cycle) and
 * reused while younger than the minimum interval, so two Prometheus replicas cost one walk.
 */
export class Collection {
  private inflight: Promise<CycleSnapshot | undefined> | undefined;
  private last: CycleSnapshot | undefined;
  private lastFinishedMs = -Infinity;
  private scrapeErrors = 0;
  private readonly failing = new Map<string, string>();
  private readonly success: Gauge;
  private readonly duration: Gauge;
  private readonly cycles: Counter;
  private readonly tracked: Gauge;

  constructor(private readonly opts: CollectionOptions) {
    const registers = [opts.registry];
    this.success = new Gauge({ name: 'procgroup_exporter_scrape_collector_success', help: 'Whether a collector succeeded in the last cycle', labelNames: ['collector'], registers });
    this.duration = new Gauge({
      name: 'procgroup_exporter_scrape_collector_duration_seconds',
      help: 'Wall time of each collector in the last cycle; collector="walk" is the /proc walk',
      labelNames: ['collector'],
      registers,
    });
    this.cycles = new Counter({ name: 'procgroup_exporter_collection_cycles_total', help: 'Collection cycles run (scrapes served from a fresh walk)', registers });
    this.tracked = new Gauge({ name: 'procgroup_exporter_processes', help: 'Processes seen in the last cycle, by whether a group tracks them', labelNames: ['state'], registers });
    for (const c of opts.collectors) c.register(opts.registry);
  }

  get lastSnapshot(): CycleSnapshot | undefined {
    return this.last;
  }

  /** The current snapshot, walking /proc only when the last one is older than the minimum interval. */
  collect(): Promise<CycleSnapshot | undefined> {
    if (this.inflight) return this.inflight;
    if (this.last && performance.now() - this.lastFinishedMs < this.opts.minIntervalMs) return Promise.resolve(this.last);
    this.inflight = this.runCycle().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async runCycle(): Promise<CycleSnapshot | undefined> {
    const { tracker, grouper, collectors, log } = this.opts;
    const start = performance.now();
    let snapshot: CycleSnapshot;
    try {
      const result = await tracker.update();
      const walkSeconds = (performance.now() - start) / 1000;
      this.duration.set({ collector: 'walk' }, walkSeconds);
      // each step after the walk takes a few ms at 30k tasks; back to back (promise reactions
      // do not let I/O in) they would hold /health for their sum
      await yieldToEventLoop();
      snapshot = grouper.apply(result, walkSeconds, this.scrapeErrors);
    } catch (err) {
      this.scrapeErrors++;
      log.error('collection cycle failed', { err });
      this.lastFinishedMs = performance.now();
      return this.last;
    }
    this.cycles.inc();
    this.tracked.set({ state: 'tracked' }, tracker.trackedCount);
    this.tracked.set({ state: 'ignored' }, tracker.ignoredCount);
    for (const c of collectors) {
      await yieldToEventLoop();
      const t0 = performance.now();
      try {
        await c.update(snapshot);
        this.success.set({ collector: c.name }, 1);
        if (this.failing.delete(c.name)) log.info('collector recovered', { collector: c.name });
      } catch (err) {
        c.reset();
        this.success.set({ collector: c.name }, 0);
        const msg = err instanceof Error ? err.message : String(err);
        // once per distinct failure, not once per scrape
        if (this.failing.get(c.name) !== msg) log.error('collector failed', { collector: c.name, err: msg });
        this.failing.set(c.name, msg);
      }
      this.duration.set({ collector: c.name }, (performance.now() - t0) / 1000);
    }
    this.last = snapshot;
    this.lastFinishedMs = performance.now();
    await yieldToEventLoop(); // the caller renders the registry next
    return snapshot;
  }

  async close(): Promise<void> {
    await this.inflight;
    for (const c of this.opts.collectors) await c.close?.();
  }
}
