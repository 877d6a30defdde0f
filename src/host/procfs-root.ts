import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { errnoOf, ExporterError } from '../errors.js';

/** -procfs names no directory, or one that does not look like a procfs. */
export class ProcfsRootError extends ExporterError {
  readonly root: string;
  constructor(root: string, detail: string, options?: { cause?: unknown }) {
    super('PROCFS_UNUSABLE', `-procfs ${root}: ${detail}`, options);
    this.root = root;
  }
}

/**
 * Checks at start-up that `root` is a procfs (or a copy of one): a directory with a `stat` whose
 * first line is the `cpu` total and at least one numeric entry holding a `stat`. Throws
 * ProcfsRootError naming what is missing, so a wrong -procfs stops the exporter instead of
 * serving empty scrapes.
 */
export function checkProcfsRoot(root: string): void {
  let entries: string[];
  try {
    if (!statSync(root).isDirectory()) throw new ProcfsRootError(root, 'not a directory');
    entries = readdirSync(root);
  } catch (err) {
    if (err instanceof ProcfsRootError) throw err;
    throw new ProcfsRootError(root, `cannot read the directory: ${errnoOf(err)}`, { cause: err });
  }
  let stat: string;
  try {
    stat = readFileSync(path.join(root, 'stat'), 'latin1').slice(0, 4);
  } catch (err) {
    throw new ProcfsRootError(root, `not a procfs: cannot read ${path.join(root, 'stat')}: ${errnoOf(err)}`, { cause: err });
  }
  if (stat !== 'cpu ') throw new ProcfsRootError(root, `not a procfs: ${path.join(root, 'stat')} does not start with the "cpu" line`);
  const pid = entries.find((e) => /^[0-9]+$/.test(e) && isFile(path.join(root, e, 'stat')));
  if (pid === undefined) throw new ProcfsRootError(root, 'not a procfs: no <pid>/stat entry');
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}
