/**
 * process-exporter's legacy selection flags, -procnames and -namemapping
 * (cmd/process-exporter/main.go: parseNameMapper, nameMapperRegex.MatchAndName):
 *   -procnames a,b,c        each process whose comm is a, b or c forms the group named by its comm.
 *   -namemapping "n,re,..." a process whose comm is n is matched when `re` matches its argv joined
 *                           by spaces and some capture group matched a non-empty string; its group is
 *                           "n:" + the first non-empty capture. Otherwise it is not matched (even if
 *                           n is also in -procnames: the mapping replaces the plain name).
 * A later mapping for the same name replaces an earlier one, as in Go's map.
 */
import { ExporterError } from '../errors.js';
import type { GroupAssignment, ProcessAttributes, ProcessMatcher } from './attributes.js';
import { capLabel } from './label-cap.js';
import { compileGoRegex, GoRegexError, type GoRegex } from './re2.js';

export interface LegacyOptions {
  /** comm names; entries may themselves be comma-separated, as the flag is */
  procnames?: string[];
  /** alternating name,regex pairs, comma-separated */
  namemapping?: string;
}

const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});

class LegacyMatcher implements ProcessMatcher {
  readonly labelNames: readonly string[] = [];

  /** comm -> regex, or null for a plain -procnames entry */
  constructor(private readonly mapping: ReadonlyMap<string, GoRegex | null>) {}

  match(p: ProcessAttributes): GroupAssignment | undefined {
    const regex = this.mapping.get(p.comm);
    if (regex === undefined) return undefined;
    if (regex === null) return { name: p.comm, labels: NO_LABELS };
    const m = regex.exec(p.cmdline().join(' '));
    const capture = m?.groups.slice(1).find((s) => s !== undefined && s !== '');
    return capture === undefined ? undefined : { name: capLabel(`${p.comm}:${capture}`), labels: NO_LABELS };
  }
}

function flagError(message: string, cause?: unknown): ExporterError {
  return new ExporterError('FLAG_INVALID', message, cause === undefined ? undefined : { cause });
}

function parseNameMapping(s: string): Map<string, GoRegex | null> {
  const mapping = new Map<string, GoRegex | null>();
  if (s === '') return mapping;
  const toks = s.split(',');
  if (toks.length % 2 === 1) throw flagError(`bad -namemapping "${s}": odd number of comma-separated tokens (want name,regex pairs)`);
  toks.forEach((tok, i) => {
    if (tok === '') throw flagError(`bad -namemapping "${s}": token ${i} is empty`);
  });
  for (let i = 0; i < toks.length; i += 2) {
    const name = toks[i] as string;
    const src = toks[i + 1] as string;
    try {
      mapping.set(name, compileGoRegex(src));
    } catch (err) {
      if (!(err instanceof GoRegexError)) throw err;
      throw flagError(`bad -namemapping regex "${src}" for "${name}": ${err.message}`, err);
    }
  }
  return mapping;
}

/** A ProcessMatcher from -procnames/-namemapping. Throws ExporterError FLAG_INVALID on bad input. */
export function legacyMatcher(opts: LegacyOptions): ProcessMatcher {
  const mapping = parseNameMapping(opts.namemapping ?? '');
  const names = (opts.procnames ?? []).flatMap((s) => s.split(',')).filter((s) => s !== '');
  for (const name of names) if (!mapping.has(name)) mapping.set(name, null);
  if (mapping.size === 0) throw flagError('-procnames and -namemapping select no process: give at least one name');
  return new LegacyMatcher(mapping);
}

