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
  /** a cycle younger than this is served to a scraper that has not had it yet instead of walking /proc anew */
  minIntervalMs: number;
  log: Logger;
}

/** Who asks for a collection; internal callers (baseline, `once`) share this one. */
export const INTERNAL_SCRAPER = '';

/** Scrapers remembered per cycle; beyond this a scrape walks anew (bounds memory, never repeats a cycle). */
const MAX_SCRAPERS_PER_CYCLE = 256;

/** The outcome of one cycle, as served to scrapes. */
export interface CycleResult {
  /** sequence number of the attempt (failed ones included): one rendering per number */
  attempt: number;
  /** undefined when the cycle failed (then no group data is served) */
  snapshot: CycleSnapshot | undefined;
}

/**
 * Runs collection cycles on demand: single-flight (concurrent scrapes share one cycle). A cycle
 * younger than the minimum interval is served to a scraper that has not had it yet, so two
 * Prometheus replicas cost one walk, but never twice to the same scraper, so no scrape interval
 * sees a repeated sample. A scraper asking again sooner than the minimum interval gets a new walk,
 * started no sooner than min(minimum interval, 1 s) after the last one ended (bounding the walks
 * one client can cause).
 */
export class Collection {
  private inflight: Promise<CycleResult> | undefined;
  private last: CycleResult = { attempt: 0, snapshot: undefined };
  /** scrapers the last cycle was handed to */
  private servedTo = new Set<string>();
  private lastFinishedMs = -Infinity;
  private attempts = 0;
  private scrapeErrors = 0;
  private failedInARow = 0;
  private cyclesRun = 0;
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
    return this.last.snapshot;
  }

  /**
   * Continue `previous` (the pipeline before a config reload): its group counters (see
   * Grouper.carryOver), error and cycle counts. Call before this collection's first cycle.
   */
  carryOver(previous: Collection): void {
    this.opts.grouper.carryOver(previous.opts.grouper);
    this.scrapeErrors = previous.scrapeErrors;
    this.cyclesRun = previous.cyclesRun;
    this.cycles.inc(this.cyclesRun);
  }

  /** A cycle started now (or the one in flight), whoever had the last one. */
  fresh(): Promise<CycleResult> {
    this.inflight ??= this.runCycle().finally(() => {
      this.inflight = undefined;
    });
    this.servedTo = new Set([INTERNAL_SCRAPER]);
    return this.inflight;
  }

  /** Cycles that failed since the last one that succeeded. */
  get consecutiveFailures(): number {
    return this.failedInARow;
  }

  /**
   * A cycle `scraper` has not been handed yet: the last one while younger than the minimum
   * interval, else a new one (joining one in flight).
   */
  async collect(scraper: string = INTERNAL_SCRAPER): Promise<CycleResult> {
    const { minIntervalMs } = this.opts;
    for (;;) {
      if (this.inflight) {
        const result = await this.inflight;
        this.servedTo.add(scraper);
        return result;
      }
      const age = performance.now() - this.lastFinishedMs;
      if (age < minIntervalMs && !this.servedTo.has(scraper) && this.servedTo.size < MAX_SCRAPERS_PER_CYCLE) {
        this.servedTo.add(scraper);
        return this.last;
      }
      const gap = Math.min(minIntervalMs, 1000) - age;
      if (gap <= 0) break;
      await new Promise((resolve) => setTimeout(resolve, gap));
    }
    const result = this.fresh();
    this.servedTo.add(scraper);
    return result;
  }

  private async runCycle(): Promise<CycleResult> {
    const { tracker, grouper, log } = this.opts;
    const start = performance.now();
    const attempt = ++this.attempts;
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
      this.failedInARow++;
      this.success.set({ collector: 'walk' }, 0);
      this.duration.set({ collector: 'walk' }, (performance.now() - start) / 1000);
      const msg = err instanceof Error ? err.message : String(err);
      if (this.failing.get('walk') !== msg) log.error('collection cycle failed', { err: msg, consecutive: this.failedInARow });
      this.failing.set('walk', msg);
      // shown in this very scrape: no group data (none was read), the error counters moved
      const previous = this.last.snapshot;
      const failed: CycleSnapshot = {
        timeMs: Date.now(),
        intervalSeconds: 0,
        durationSeconds: (performance.now() - start) / 1000,
        cycle: previous?.cycle ?? 0,
        groups: [],
        host: previous?.host ?? { user: 0, system: 0, unaccounted: 0 },
        errors: { ...(previous?.errors ?? { procReadErrors: 0, partialErrors: 0, byFile: new Map() }), scrapeErrors: this.scrapeErrors },
      };
      await this.updateCollectors(failed);
      this.last = { attempt, snapshot: undefined };
      this.lastFinishedMs = performance.now();
      return this.last;
    }
    this.failedInARow = 0;
    this.success.set({ collector: 'walk' }, 1);
    if (this.failing.delete('walk')) log.info('collection cycles recovered');
    this.cyclesRun++;
    this.cycles.inc();
    this.tracked.set({ state: 'tracked' }, tracker.trackedCount);
    this.tracked.set({ state: 'ignored' }, tracker.ignoredCount);
    await this.updateCollectors(snapshot);
    this.last = { attempt, snapshot };
    this.lastFinishedMs = performance.now();
    await yieldToEventLoop(); // the caller renders the registry next
    return this.last;
  }

  private async updateCollectors(snapshot: CycleSnapshot): Promise<void> {
    const { collectors, log } = this.opts;
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
  }

  async close(): Promise<void> {
    await this.inflight;
    for (const c of this.opts.collectors) await c.close?.();
    this.opts.tracker.close();
  }
}
