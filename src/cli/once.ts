import { checkProcfsRoot } from '../host/procfs-root.js';
import { createLogger } from '../log.js';
import { EXPORTER_FLAGS, exporterSettings, groupingSource, openCounterSource } from './exporter-flags.js';
import { durationFlag, type FlagSpecs, flagUsage } from './flags.js';
import { exporterFlags } from './serve.js';
import { baseRegistry, buildPipeline, collectOnce } from '../pipeline/setup.js';

const ONCE_DELAY_MS = 1000;

/** The flags as `once` uses them: its own defaults shown, serving flags (web.*) left out. */
function onceFlagSpecs(): FlagSpecs {
  const specs: FlagSpecs = {};
  for (const [name, def] of Object.entries(EXPORTER_FLAGS)) {
    if (name.startsWith('web.') || name.startsWith('health.') || name === 'collect.min-interval') continue;
    specs[name] = def;
  }
  specs['once-to-stdout-delay'] = durationFlag(ONCE_DELAY_MS, 'time between the two collection cycles (the first is the baseline of the counters)');
  return specs;
}

const USAGE = `usage: procgroup-exporter once [flags]
Two collection cycles -once-to-stdout-delay apart, the metrics text on stdout, then exit.

example:
  procgroup-exporter once -config.path my.yaml | grep namedprocess_namegroup_num_procs

flags:
`;

/** `once`: two cycles `-once-to-stdout-delay` apart (default 1s), the metrics text on stdout. */
export async function run(argv: string[]): Promise<number> {
  const flags = exporterFlags(argv, process.env);
  if (flags.$help) {
    process.stdout.write(USAGE + flagUsage(onceFlagSpecs()));
    return 0;
  }
  const log = createLogger({ level: flags.debug ? 'debug' : 'warn' });
  checkProcfsRoot(flags.procfs);
  const source = openCounterSource(flags, log);
  const pipeline = buildPipeline({ ...exporterSettings(flags, process.env), minIntervalMs: 0 }, groupingSource(flags).load(), log, source.counterSource);
  const delay = flags.$set.has('once-to-stdout-delay') ? flags['once-to-stdout-delay'] : ONCE_DELAY_MS;
  process.stdout.write(await collectOnce(pipeline, baseRegistry(source.name).registry, delay));
  await pipeline.collection.close();
  return 0;
}
