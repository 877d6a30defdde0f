import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from './targets.js';
import { CHURN_NAMES, HOLD_NAMES } from './workload.js';

/** The V8 flags the image and the installed bin run ours with: those of main.ts's #! line. */
export const OURS_NODE_FLAGS = (readFileSync(join(REPO_ROOT, 'src/cli/main.ts'), 'utf8').split('\n', 1)[0] ?? '').split(' ').slice(3);
/** The image's malloc setting (Dockerfile ENV), so the benchmark measures ours as it ships. */
export const OURS_ARENAS = /^ENV MALLOC_ARENA_MAX=(\d+)$/m.exec(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'))?.[1];
export const OURS_ENV = OURS_ARENAS === undefined ? process.env : { ...process.env, MALLOC_ARENA_MAX: OURS_ARENAS };
export const OURS_MAIN = join(REPO_ROOT, 'dist/src/cli/main.js');

/** One rule naming every workload process by its comm: the same file for both exporters. */
export function writeConfig(dir: string): string {
  const names = [...HOLD_NAMES, ...CHURN_NAMES];
  const file = join(dir, 'bench-config.yaml');
  writeFileSync(file, `# written by the benchmark: one group per workload name\nprocess_names:\n  - name: "{{.Comm}}"\n    comm:\n${names.map((n) => `      - ${n}\n`).join('')}`);
  return file;
}
