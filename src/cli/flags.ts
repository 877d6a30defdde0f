import { ExporterError } from '../errors.js';

/**
 * Go `flag` package semantics, so process-exporter command lines work unchanged: one or two
 * leading dashes, `-name value` or `-name=value`, booleans as `-name` or `-name=false`,
 * parsing stops at the first non-flag or at `--`.
 */
export interface FlagDef<T> {
  kind: 'string' | 'bool' | 'duration' | 'int';
  default: T;
  help: string;
}

export const stringFlag = (def: string, help: string): FlagDef<string> => ({ kind: 'string', default: def, help });
export const boolFlag = (def: boolean, help: string): FlagDef<boolean> => ({ kind: 'bool', default: def, help });
/** value in milliseconds; written like Go durations: 500ms, 5s, 1m30s */
export const durationFlag = (defMs: number, help: string): FlagDef<number> => ({ kind: 'duration', default: defMs, help });
export const intFlag = (def: number, help: string): FlagDef<number> => ({ kind: 'int', default: def, help });

export type FlagSpecs = Record<string, FlagDef<unknown>>;
export type FlagValues<S extends FlagSpecs> = { [K in keyof S]: S[K] extends FlagDef<infer T> ? T : never } & {
  /** names given on the command line (to tell a default from an explicit value) */
  readonly $set: ReadonlySet<string>;
  readonly $rest: readonly string[];
  readonly $help: boolean;
};

export class FlagError extends ExporterError {
  constructor(message: string) {
    super('FLAG_INVALID', message);
  }
}

const DURATION_UNITS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

export function parseDuration(text: string): number {
  if (text === '0') return 0;
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * (DURATION_UNITS[m[2] ?? ''] ?? NaN);
    consumed = re.lastIndex;
  }
  if (consumed !== text.length || text === '' || Number.isNaN(total)) throw new FlagError(`invalid duration "${text}" (use e.g. 500ms, 5s, 1m30s)`);
  return total;
}

function convert(name: string, def: FlagDef<unknown>, raw: string): unknown {
  switch (def.kind) {
    case 'string':
      return raw;
    case 'bool':
      if (['true', '1', 't', 'T', 'TRUE', 'True'].includes(raw)) return true;
      if (['false', '0', 'f', 'F', 'FALSE', 'False'].includes(raw)) return false;
      throw new FlagError(`invalid boolean value "${raw}" for flag -${name}`);
    case 'duration':
      try {
        return parseDuration(raw);
      } catch (err) {
        throw new FlagError(`flag -${name}: ${(err as Error).message}`);
      }
    case 'int': {
      const n = Number(raw);
      if (!Number.isInteger(n)) throw new FlagError(`invalid integer "${raw}" for flag -${name}`);
      return n;
    }
  }
}

export function parseFlags<S extends FlagSpecs>(specs: S, argv: readonly string[]): FlagValues<S> {
  const values: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(specs)) values[name] = def.default;
  const set = new Set<string>();
  let help = false;
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      i++;
      break;
    }
    if (!arg.startsWith('-') || arg === '-') break;
    const body = arg.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    if (name === 'h' || name === 'help') {
      help = true;
      continue;
    }
    const def = specs[name];
    if (!def) throw new FlagError(`flag provided but not defined: -${name}`);
    let raw: string;
    if (eq >= 0) raw = body.slice(eq + 1);
    else if (def.kind === 'bool') raw = 'true';
    else {
      const next = argv[i + 1];
      if (next === undefined) throw new FlagError(`flag needs an argument: -${name}`);
      raw = next;
      i++;
    }
    values[name] = convert(name, def, raw);
    set.add(name);
  }
  return Object.assign(values, { $set: set, $rest: argv.slice(i), $help: help }) as FlagValues<S>;
}

export function flagUsage(specs: FlagSpecs): string {
  const lines: string[] = [];
  for (const [name, def] of Object.entries(specs)) {
    const placeholder = def.kind === 'bool' ? '' : ` ${def.kind === 'duration' ? 'duration' : def.kind === 'int' ? 'int' : 'string'}`;
    const shown = def.kind === 'duration' ? `${def.default as number}ms` : JSON.stringify(def.default);
    lines.push(`  -${name}${placeholder}\n    \t${def.help} (default ${shown})`);
  }
  return `${lines.join('\n')}\n`;
}

/** The part of a node:util parseArgs option goStyleArgs needs. */
interface LongOption {
  type: 'string' | 'boolean';
  default?: unknown;
}

/**
 * Go's flag dialect for the subcommands parsed with node:util parseArgs (report, deploy, delete):
 * a long option may be written with one dash as with two (`report -url X`, `deploy -dry-run`), as
 * for serve; `-flag=false` turns a boolean off. Short options (`-o json`) keep their meaning;
 * rewriting stops at `--`.
 */
export function goStyleArgs(argv: readonly string[], options: Readonly<Record<string, LongOption>>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const m = /^--?([^=]{2,})(?:=(.*))?$/.exec(arg);
    const name = m?.[1];
    const option = name === undefined ? undefined : options[name];
    if (!m || !option) {
      out.push(arg);
      continue;
    }
    const value = m[2];
    if (option.type === 'boolean' && value !== undefined) {
      const on = convert(name as string, boolFlag(false, ''), value) as boolean;
      if (on) out.push(`--${name}`);
      else if (option.default === true) throw new FlagError(`-${name}=false: this flag cannot be turned off`);
      continue;
    }
    // the value of a string option is the next argument as it is, even when it starts with a dash
    if (option.type === 'string' && value === undefined && i + 1 < argv.length) out.push(`--${name}=${argv[++i] as string}`);
    else out.push(value === undefined ? `--${name}` : `--${name}=${value}`);
  }
  return out;
}
