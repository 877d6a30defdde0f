import { checkProcfsRoot } from '../host/procfs-root.js';
import { createLogger } from '../log.js';
import { EXPORTER_FLAGS } from './exporter-flags.js';
import { flagUsage } from './flags.js';
import { exporterFlags } from './serve.js';
import { baseRegistry, buildPipeline, collectOnce, groupingSource, openCounterSource } from '../pipeline/setup.js';

/** `once`: two cycles `-once-to-stdout-delay` apart (default 1s), the metrics text on stdout. */
export async function run(argv: string[]): Promise<number> {
  const flags = exporterFlags(argv, process.env);
  if (flags.$help) {
    process.stdout.write(`usage: procgroup-exporter once [flags]\n${flagUsage(EXPORTER_FLAGS)}`);
    return 0;
  }
  const log = createLogger({ level: flags.debug ? 'debug' : 'warn' });
  checkProcfsRoot(flags.procfs);
  const source = openCounterSource(flags, log);
  const pipeline = buildPipeline({ ...flags, 'collect.min-interval': 0 }, groupingSource(flags).load(), log, process.env, source.counterSource);
  const delay = flags.$set.has('once-to-stdout-delay') ? flags['once-to-stdout-delay'] : 1000;
  process.stdout.write(await collectOnce(pipeline, baseRegistry(source.name).registry, delay));
  await pipeline.collection.close();
  return 0;
}
