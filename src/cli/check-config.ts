import { ConfigError, formatProblem } from '../errors.js';
import { loadConfigFile } from '../config/load.js';

/** `check-config FILE...`: prints OK per file or every problem as file:line:column: field: message. */
export async function run(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv.includes('-h') || argv.includes('--help')) {
    process.stdout.write('usage: procgroup-exporter check-config FILE...\nChecks config files without running anything: OK per file, or every problem as file:line:column: field: message (exit 1). No flags.\n\nexample:\n  procgroup-exporter check-config config/default.yaml my.yaml\n');
    return argv.length === 0 ? 2 : 0;
  }
  let failed = 0;
  for (const file of argv) {
    try {
      loadConfigFile(file);
      process.stdout.write(`OK: ${file}\n`);
    } catch (err) {
      failed++;
      if (err instanceof ConfigError) for (const p of err.problems) process.stderr.write(`${formatProblem(p)}\n`);
      else throw err;
    }
  }
  return failed === 0 ? 0 : 1;
}
