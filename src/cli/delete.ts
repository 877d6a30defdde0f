/** `procgroup-exporter delete`: removes what `deploy` created; same flags (see src/cli/deploy.ts). */
import { runKubeAction } from './deploy.js';

export function run(argv: string[]): Promise<number> {
  return runKubeAction('delete', argv);
}
