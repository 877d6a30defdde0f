import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import type { Collector } from '../collectors/collector.js';
import { Collection } from './collection.js';
import { PerfCollector } from '../collectors/perf.js';
import { PsiCollector } from '../collectors/psi.js';
import { DEFAULT_PERF_OPTIONS, perfOptionsFromEnv } from '../perf/options.js';
import { GroupCollector } from '../collectors/group.js';
import { HostCollector } from '../collectors/host.js';
import { ScrapeCollector } from '../collectors/scrape.js';
import { SeriesCollector } from '../collectors/series.js';
import { ThreadCollector } from '../collectors/thread.js';
import type { ProcessMatcher } from '../config/attributes.js';
import { legacyMatcher } from '../config/legacy.js';
import { type LoadedConfig, loadConfigFile } from '../config/load.js';
import { Grouper } from '../grouper/grouper.js';
import type { Logger } from '../log.js';
import { defaultConfigPath, version } from '../package-info.js';
import { basePageSize } from '../procfs/page-size.js';
import { Host } from '../host/host.js';
import { openExitRecords } from '../host/exit-records.js';
import { Tracker } from '../tracker/tracker.js';
import type { CounterSource } from '../host/counter-source.js';
import { isSourceMode, selectCounterSource, SOURCE_MODES, type SelectedSource } from '../host/source-select.js';
import type { EXPORTER_FLAGS } from '../cli/exporter-flags.js';
import { FlagError, type FlagValues } from '../cli/flags.js';

export type ExporterFlags = FlagValues<typeof EXPORTER_FLAGS>;

/** Where the grouping comes from: a config file, or process-exporter's legacy flags. */
export interface GroupingSource {
  /** the file, or undefined for -procnames/-namemapping */
  configFile: string | undefined;
  load(): { matcher: ProcessMatcher; config: LoadedConfig | undefined };
}

export function groupingSource(flags: ExporterFlags): GroupingSource {
  const legacy = flags.procnames !== '' || flags.namemapping !== '';
  if (flags['config.path'] !== '' && legacy) throw new FlagError('-config.path cannot be used with -namemapping or -procnames');
  if (legacy) {
    const procnames = flags.procnames === '' ? [] : flags.procnames.split(',');
    return { configFile: undefined, load: () => ({ matcher: legacyMatcher({ procnames, namemapping: flags.namemapping }), config: undefined }) };
  }
  const file = flags['config.path'] === '' ? defaultConfigPath : flags['config.path'];
  return {
    configFile: file,
    load: () => {
      const config = loadConfigFile(file);
      return { matcher: config.matcher, config };
    },
  };
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
  flags: ExporterFlags,
  grouping: ReturnType<GroupingSource['load']>,
  log: Logger,
  env: NodeJS.ProcessEnv = process.env,
  counterSource: CounterSource | undefined = undefined,
): Pipeline {
  const { matcher, config } = grouping;
  const registry = new Registry();
  const host = new Host({ procfsRoot: flags.procfs, rootfs: flags['path.rootfs'], cgroup2Root: flags['path.cgroup2'] || undefined, counterSource, log });
  const tracker = new Tracker({
    host,
    matcher,
    children: flags.children,
    threads: flags.threads,
    threadDetails: flags.threads && flags['threads.details'],
    wchan: flags['collector.wchan'],
    gatherSmaps: flags['gather-smaps'],
    recheck: flags.recheck,
    pageSize,
    exitRecords: flags['exit-records'] ? openExitRecords(flags.procfs, log) : undefined,
  });
  const semantics = flags.compat === 'process-exporter' ? 'process-exporter' : 'default';
  const grouper = new Grouper({
    removeEmptyGroups: flags['remove-empty-groups'],
    gatherSmaps: flags['gather-smaps'],
    threadNameTtlCycles: 40,
    threadNames: { normalize: flags['threads.normalize-names'], maxPerGroup: flags['threads.max-names'] },
    semantics,
  });
  const collectors: Collector[] = [
    new GroupCollector({ labelNames: matcher.labelNames, gatherSmaps: flags['gather-smaps'], wchan: flags['collector.wchan'], processExporterOnly: semantics === 'process-exporter' }),
    new HostCollector(),
    new ScrapeCollector(),
  ];
  // a rule's `threads: true` turns the families on for its groups even under -threads=false
  if (flags.threads || config?.matcher.threadsRequested) collectors.push(new ThreadCollector({ labelNames: matcher.labelNames, details: flags['threads.details'] }));
  let psi: PsiCollector | undefined;
  if (flags['collector.psi'] || config?.psi.enabled) {
    psi = new PsiCollector({
      enabled: true,
      averages: flags['collector.psi.averages'] || (config?.psi.averages ?? false),
      host,
      groupLabelNames: matcher.labelNames,
      log,
    });
    collectors.push(psi);
  }
  // the seed deployment's PERF_COLLECTOR_ENABLED / *_PERF_LABELS variables win over the config file
  const perfEnv = perfOptionsFromEnv(env);
  if (flags['collector.perf'] || perfEnv.enabled || config?.perf.enabled) {
    const perf = config?.perf;
    collectors.push(
      new PerfCollector({
        enabled: true,
        events: perfEnv.events ?? perf?.events,
        scope: perf?.scope ?? DEFAULT_PERF_OPTIONS.scope,
        inherit: perf?.inherit ?? DEFAULT_PERF_OPTIONS.inherit,
        maxFds: perf?.maxFds ?? DEFAULT_PERF_OPTIONS.maxFds,
        host,
        groupLabelNames: matcher.labelNames,
        log,
      }),
    );
  }
  collectors.push(new SeriesCollector()); // last: counts what the others exported
  const collection = new Collection({ tracker, grouper, collectors, registry, minIntervalMs: flags['collect.min-interval'], log });
  return { collection, registry, config, psi };
}

/**
 * The counter source -source asks for, opened once for the exporter's lifetime (it outlives config
 * reloads). Throws FlagError for an unknown mode, and the taskstats error for -source=taskstats
 * when taskstats cannot be used.
 */
export function openCounterSource(flags: ExporterFlags, log: Logger): SelectedSource {
  const mode = flags.source;
  if (!isSourceMode(mode)) throw new FlagError(`-source must be one of ${SOURCE_MODES.join(', ')}, not "${mode}"`);
  return selectCounterSource({ mode, procfsRoot: flags.procfs }, log);
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
