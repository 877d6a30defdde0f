import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const fixtureDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');

/** bytes of test/fixtures/<path> (copied from real machines) */
export function fixtureBytes(path: string): Buffer {
  return readFileSync(join(fixtureDir, path));
}
