import { formatProblem, ConfigError, ExporterError } from '../errors.js';
import type { SelectedSource } from '../host/source-select.js';
import { createLogger, type Logger } from '../log.js';
import { version } from '../package-info.js';
import { checkProcfsRoot, ProcfsRootError } from '../host/procfs-root.js';
import { createApp, type Exposition } from '../server/app.js';
import { type ExporterServer, listen } from '../server/listen.js';
import { WebConfigError } from '../server/web-config.js';
import { EXPORTER_FLAGS, type ExporterFlags, exporterSettings, groupingSource, openCounterSource } from './exporter-flags.js';
import { FlagError, flagUsage, parseFlags } from './flags.js';
import { pipelineGroups } from '../pipeline/groups-source.js';
import { baseRegistry, buildPipeline, collectOnce, type Pipeline } from '../pipeline/setup.js';

export function parseListenAddress(address: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(address);
  if (!m) throw new Error(`invalid -web.listen-address "${address}" (want host:port or :port)`);
  const host = m[1] ?? m[2];
  return { host: host === '' ? undefined : host, port: Number(m[3]) };
}

function describeLoadError(err: unknown): string {
  if (err instanceof ConfigError || err instanceof WebConfigError) return err.problems.map(formatProblem).join('\n');
  return err instanceof Error ? err.message : String(err);
}

export function exporterFlags(argv: string[], env: NodeJS.ProcessEnv): ExporterFlags {
  const flags = parseFlags(EXPORTER_FLAGS, argv);
  if (flags.compat === 'process-exporter') {
    // process-exporter's output, except where a flag given on the command line says otherwise
    for (const name of ['collector.wchan', 'gather-smaps', 'threads.details'] as const) if (!flags.$set.has(name)) flags[name] = true;
    if (!flags.$set.has('threads.normalize-names')) flags['threads.normalize-names'] = false;
    if (!flags.$set.has('threads.max-names')) flags['threads.max-names'] = 0;
  } else if (flags.compat !== '') {
    throw new FlagError(`invalid value "${flags.compat}" for flag -compat: want process-exporter`);
  }
  // the seed deployment's PORT variable, when the flag does not say otherwise
  if (!flags.$set.has('web.listen-address') && env.PORT) flags['web.listen-address'] = `:${env.PORT}`;
  return flags;
}

export async function run(argv: string[]): Promise<number> {
  const flags = exporterFlags(argv, process.env);
  if (flags.$help || flags.man) {
    process.stdout.write(`usage: procgroup-exporter [serve] [flags]\nThe exporter: /metrics, /health, /psi, the groups page on / and /api/groups.\n\nexample:\n  procgroup-exporter -config.path /etc/procgroup-exporter/config.yaml -web.listen-address :9256\n\nflags:\n${flagUsage(EXPORTER_FLAGS)}`);
    return 0;
  }
  if (flags.version) {
    process.stdout.write(`procgroup-exporter ${version} (node ${process.version})\n`);
    return 0;
  }
  const log = createLogger({ level: flags.debug ? 'debug' : 'info' });
  try {
    checkProcfsRoot(flags.procfs);
  } catch (err) {
    if (!(err instanceof ProcfsRootError)) throw err;
    log.error('cannot use the procfs root', { err: err.message });
    return 1;
  }
  let source: SelectedSource;
  try {
    source = openCounterSource(flags, log);
  } catch (err) {
    if (!(err instanceof ExporterError)) throw err;
    log.error('cannot use the counter source', { source: flags.source, err: err.message });
    return err instanceof FlagError ? 2 : 1;
  }
  const grouping = groupingSource(flags);
  const settings = exporterSettings(flags, process.env);
  const base = baseRegistry(source.name);
  let pipeline: Pipeline;
  try {
    pipeline = buildPipeline(settings, grouping.load(), log, source.counterSource);
  } catch (err) {
    log.error('cannot load config', { file: grouping.configFile, err: describeLoadError(err) });
    return 1;
  }
  base.reloadSuccess.set(1);
  base.reloadTime.set(Date.now() / 1000);

  if (flags['once-to-stdout-delay'] > 0) {
    const once = buildPipeline({ ...settings, minIntervalMs: 0 }, grouping.load(), log, source.counterSource);
    process.stdout.write(await collectOnce(once, base.registry, flags['once-to-stdout-delay']));
    return 0;
  }

  // one reload at a time: each hands its counters to the next
  let reloading: Promise<unknown> = Promise.resolve();
  const reload = (): Promise<string | undefined> => {
    const done = reloading.then(reloadNow);
    reloading = done;
    return done;
  };
  const reloadNow = async (): Promise<string | undefined> => {
    try {
      const next = buildPipeline(settings, await grouping.reload(), log, source.counterSource);
      const previous = pipeline;
      // counters continue: everything up to now goes to the old grouping, the new one starts
      // from here with the totals of every group that survives
      await previous.collection.fresh();
      next.collection.carryOver(previous.collection);
      await next.collection.fresh();
      pipeline = next;
      await previous.collection.close();
      base.reloadSuccess.set(1);
      base.reloadTime.set(Date.now() / 1000);
      log.info('config reloaded', { file: grouping.configFile });
      return undefined;
    } catch (err) {
      base.reloadSuccess.set(0);
      const message = describeLoadError(err);
      log.error('config reload failed, keeping the last good config', { file: grouping.configFile, err: message });
      return message;
    }
  };
  // before the slow steps (listen, baseline walk): SIGHUP's default action would end the process
  process.on('SIGHUP', () => void reload());

  // one rendering per collection cycle, shared by every scrape handed that cycle
  let rendered: { pipeline: Pipeline; attempt: number; exposition: Promise<Exposition> } | undefined;
  let renderings = 0;
  const app = createApp({
    telemetryPath: flags['web.telemetry-path'],
    metrics: async (scraper) => {
      const current = pipeline;
      const { attempt } = await current.collection.collect(scraper);
      if (rendered?.pipeline !== current || rendered.attempt !== attempt) {
        const id = ++renderings;
        const exposition = Promise.all([current.registry.metrics(), base.registry.metrics()]).then(([a, b]) => ({ id, text: a + b }));
        rendered = { pipeline: current, attempt, exposition };
      }
      return rendered.exposition;
    },
    unhealthy: () => {
      const failed = pipeline.collection.consecutiveFailures;
      return failed >= flags['health.max-failed-cycles'] ? `${failed} collection cycles failed in a row` : undefined;
    },
    maxRequests: flags['web.max-requests'],
    writeTimeoutMs: flags['web.write-timeout'],
    psi: () => pipeline.psi?.report(),
    groups: pipelineGroups(() => pipeline, Math.max(flags['collect.min-interval'], 1000)),
    reload: flags['web.enable-lifecycle'] ? reload : undefined,
    log,
    version,
  });

  const { host, port } = parseListenAddress(flags['web.listen-address']);
  const webConfigFile = flags['web.config.file'] || undefined;
  let server: ExporterServer;
  try {
    server = await listen({ host, port, webConfigFile, handler: app.callback(), log });
  } catch (err) {
    if (!(err instanceof WebConfigError)) throw err;
    log.error('cannot use web config', { file: webConfigFile, err: describeLoadError(err) });
    return 1;
  }
  log.info('listening', { address: flags['web.listen-address'], config: grouping.configFile ?? 'legacy flags', version });
  await pipeline.collection.collect(); // baseline cycle, so the first scrape already has increments

  return new Promise<number>((resolve) => {
    const stop = (signal: string): void => {
      void shutdown(signal, server, () => pipeline, log).then(() => resolve(0));
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

async function shutdown(signal: string, server: ExporterServer, pipeline: () => Pipeline, log: Logger): Promise<void> {
  log.info('shutting down', { signal });
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  // connections still busy after 5 s are cut
  const timer = setTimeout(() => server.closeAllConnections(), 5000);
  await closed;
  clearTimeout(timer);
  await pipeline().collection.close();
}
