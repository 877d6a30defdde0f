import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { Collector } from '../collectors/collector.js';
import { Collection } from './collection.js';
import { PerfCollector } from '../collectors/perf.js';
import { PsiCollector } from '../collectors/psi.js';
import { GroupCollector } from '../collectors/group.js';
import { HostCollector } from '../collectors/host.js';
import { ScrapeCollector } from '../collectors/scrape.js';
import { SeriesCollector } from '../collectors/series.js';
import { ThreadCollector } from '../collectors/thread.js';
import type { ProcessMatcher } from '../config/attributes.js';
import type { LoadedConfig } from '../config/load.js';
import { Grouper } from '../grouper/grouper.js';
import type { Logger } from '../log.js';
import { version } from '../package-info.js';
import { basePageSize } from '../procfs/page-size.js';
import { Host } from '../host/host.js';
import { openExitRecords } from '../host/exit-records.js';
import { Tracker } from '../tracker/tracker.js';
import type { CounterSource } from '../host/counter-source.js';
import type { SelectedSource } from '../host/source-select.js';
import { collectorSettings, type ExporterSettings } from './settings.js';

/** The grouping a pipeline is built with: the config file's, or process-exporter's legacy flags'. */
export interface Grouping {
  matcher: ProcessMatcher;
  config: LoadedConfig | undefined;
}

/** One collection pipeline: tracker -> grouper -> collectors, with its own registry. Rebuilt on reload. */
export interface Pipeline {
  collection: Collection;
  registry: Registry;
  config: LoadedConfig | undefined;
  /** present when the PSI collector is enabled (flag or config), for /psi */
  psi: PsiCollector | undefined;
}

const pageSize = basePageSize();

/**
 * `counterSource`: the binary source chosen at start-up (openCounterSource), shared by the pipelines
 * of successive reloads; undefined reads the /proc text files.
 */
export function buildPipeline(
  settings: ExporterSettings,
  grouping: Grouping,
  log: Logger,
  counterSource: CounterSource | undefined = undefined,
): Pipeline {
  const { matcher, config } = grouping;
  const registry = new Registry();
  const semantics = settings.compat === 'process-exporter' ? 'process-exporter' : 'default';
  const host = new Host({ procfsRoot: settings.procfsRoot, heldFiles: settings.heldFiles, rootfs: settings.rootfs, cgroup2Root: settings.cgroup2Root, kubeletCgroupRoot: settings.kubeletCgroupRoot, counterSource, log });
  const tracker = new Tracker({
    host,
    matcher,
    children: settings.children,
    threads: settings.threads,
    threadDetails: settings.threadDetails,
    threadStates: semantics === 'process-exporter',
    wchan: settings.wchan,
    gatherSmaps: settings.gatherSmaps,
    recheck: settings.recheck,
    pageSize,
    exitRecords: settings.exitRecords ? openExitRecords(settings.procfsRoot, log) : undefined,
  });
  const grouper = new Grouper({
    removeEmptyGroups: settings.removeEmptyGroups,
    gatherSmaps: settings.gatherSmaps,
    threadNameTtlCycles: 40,
    threadNames: settings.threadNames,
    semantics,
  });
  const collectors: Collector[] = [
    new GroupCollector({ labelNames: matcher.labelNames, gatherSmaps: settings.gatherSmaps, wchan: settings.wchan, processExporterOnly: semantics === 'process-exporter' }),
    new HostCollector(),
    new ScrapeCollector(),
  ];
  // a rule's `threads: true` turns the families on for its groups even under -threads=false
  if (settings.threads || config?.matcher.threadsRequested) collectors.push(new ThreadCollector({ labelNames: matcher.labelNames, details: settings.threadDetails }));
  const options = collectorSettings(settings, config);
  let psi: PsiCollector | undefined;
  if (options.psi.enabled) {
    psi = new PsiCollector({ ...options.psi, host, groupLabelNames: matcher.labelNames, log });
    collectors.push(psi);
  }
  if (options.perf.enabled) collectors.push(new PerfCollector({ ...options.perf, host, groupLabelNames: matcher.labelNames, log }));
  collectors.push(new SeriesCollector()); // last: counts what the others exported
  const collection = new Collection({ tracker, grouper, collectors, registry, minIntervalMs: settings.minIntervalMs, log });
  return { collection, registry, config, psi };
}

/** Metrics that outlive pipelines: the exporter's own process, build info, reload status, counter source. */
export function baseRegistry(source: SelectedSource['name'] = 'procfs'): { registry: Registry; reloadSuccess: Gauge; reloadTime: Gauge } {
  const registry = new Registry();
  // the event-loop lag histogram samples every 10 ms by default: 7-14 ms of CPU a second while idle
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 1000 });
  // sampled every 1 s (every 10 ms costs 7-14 ms of CPU a second while idle), the lag histogram
  // reads about 1 s whatever the real lag: a wrong figure is worse than none
  for (const m of registry.getMetricsAsArray()) {
    if (m.name.startsWith('nodejs_eventloop_lag_')) registry.removeSingleMetric(m.name);
  }
  const info = new Gauge({
    name: 'procgroup_exporter_build_info',
    help: 'A metric with a constant 1 value labeled by version and the Node.js version it runs on',
    labelNames: ['version', 'nodeversion'],
    registers: [registry],
  });
  info.set({ version, nodeversion: process.version }, 1);
  const sourceInfo = new Gauge({
    name: 'procgroup_exporter_source_info',
    help: 'Where per-task counters come from: procfs (the /proc text files) or taskstats (the kernel\'s task accounting over netlink); constant 1',
    labelNames: ['source'],
    registers: [registry],
  });
  sourceInfo.set({ source }, 1);
  const reloadSuccess = new Gauge({ name: 'procgroup_exporter_config_last_reload_successful', help: 'Whether the last configuration reload attempt was successful', registers: [registry] });
  const reloadTime = new Gauge({ name: 'procgroup_exporter_config_last_reload_success_timestamp_seconds', help: 'Timestamp of the last successful configuration load', registers: [registry] });
  return { registry, reloadSuccess, reloadTime };
}

/** Runs a first (baseline) cycle, waits, runs a second and renders the metrics text. */
export async function collectOnce(pipeline: Pipeline, base: Registry, delayMs: number): Promise<string> {
  await pipeline.collection.collect();
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  await pipeline.collection.collect();
  return (await pipeline.registry.metrics()) + (await base.metrics());
}
