/**
 * Config file loading: YAML with source positions -> ajv shape check -> compiled rules.
 * Every problem found (YAML syntax, schema, regexes, templates, label names) is collected and
 * thrown together as one ConfigError whose problems name file, line, column and field path.
 */
import { FileRefusedError, readRegularFile, readRegularFileSync } from '../read-file.js';
import { Ajv, type ErrorObject } from 'ajv';
import {
  isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument,
  type Document, type Node as YamlNode, type Pair, type YAMLError,
} from 'yaml';
import { ConfigError, type ConfigProblem } from '../errors.js';
import { compileRules, type AttributeNeeds, type FieldPath, type ProblemSink, type RuleMatcher } from './matcher.js';
import {
  CONFIG_SCHEMA, DEFAULT_PERF, DEFAULT_PSI,
  type PerfOptions, type PsiOptions, type RawConfig,
} from './schema.js';

export type { PerfOptions, PerfScope, PsiOptions } from './schema.js';
export type { AttributeNeeds } from './matcher.js';

export interface LoadedConfig {
  file: string;
  matcher: RuleMatcher;
  psi: PsiOptions;
  perf: PerfOptions;
  /** attributes any rule or template may read; the tracker need prefetch nothing else */
  needs: AttributeNeeds;
}

const ajv = new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true });
const validate = ajv.compile<RawConfig>(CONFIG_SCHEMA);

/** process_names[2].cmdline[0], labels["a b"] for keys that are not identifiers */
export function formatField(path: FieldPath): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

/** Turns field paths into positions in the YAML source. */
class Locator {
  constructor(
    private readonly text: string,
    private readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
  ) {}

  position(offset: number): { line: number; column: number } {
    const { line, col } = this.lines.linePos(offset);
    return { line: Math.max(line, 1), column: Math.max(col, 1) };
  }

  /** Offset of the value (or key) at path; the deepest existing ancestor when it does not exist. */
  offset(path: FieldPath, where: { key?: boolean; offset?: number } = {}): number {
    let node: unknown = this.doc.contents;
    let found: YamlNode | undefined = isNodeWithRange(node) ? node : undefined;
    let pair: Pair | undefined;
    let complete = true;
    for (const [i, seg] of path.entries()) {
      node = this.resolve(node);
      pair = undefined;
      let next: unknown;
      if (isMap(node)) {
        pair = this.findPair(node.items, String(seg));
        next = pair?.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        next = node.items[seg];
      }
      if (next === undefined || next === null) {
        // only the key of the last segment exists: it can still be pointed at
        complete = false;
        if (i < path.length - 1) pair = undefined;
        break;
      }
      node = next;
      if (isNodeWithRange(node)) found = node;
    }
    if (where.key && pair && isNodeWithRange(pair.key)) return pair.key.range[0];
    if (!found?.range) return 0;
    const start = found.range[0];
    if (complete && where.offset !== undefined && isScalar(found) && typeof found.value === 'string') {
      return start + this.offsetInScalar(found.value, start, found.range[1], where.offset);
    }
    return start;
  }

  private resolve(node: unknown): unknown {
    return isAlias(node) ? node.resolve(this.doc) : node;
  }

  /** A key of the map, or of a map merged into it with `<<`. */
  private findPair(items: readonly Pair[], key: string): Pair | undefined {
    const direct = items.find((p) => isScalar(p.key) && String(p.key.value) === key);
    if (direct) return direct;
    for (const p of items) {
      if (!isScalar(p.key) || p.key.value !== '<<') continue;
      const sources = isSeq(p.value) ? p.value.items : [p.value];
      for (const s of sources) {
        const merged = this.resolve(s);
        if (isMap(merged)) {
          const hit = this.findPair(merged.items as Pair[], key);
          if (hit) return hit;
        }
      }
    }
    return undefined;
  }

  /** Where character `offset` of a string value sits in its source, when written without escapes. */
  private offsetInScalar(value: string, start: number, end: number, offset: number): number {
    const raw = this.text.slice(start, end);
    if (raw === value) return offset;
    if ((raw === `'${value}'` && !value.includes("'")) || (raw === `"${value}"` && !/["\\]/.test(value))) return offset + 1;
    return 0;
  }
}

function isNodeWithRange(n: unknown): n is YamlNode & { range: [number, number, number] } {
  return typeof n === 'object' && n !== null && !isPair(n) && Array.isArray((n as { range?: unknown }).range);
}

const TYPE_TEXT: Record<string, string> = {
  string: 'a string', integer: 'an integer', number: 'a number', boolean: 'true or false',
  array: 'a list', object: 'a mapping', null: 'empty',
};

function describe(data: unknown): string {
  if (data === null || data === undefined) return 'nothing';
  if (Array.isArray(data)) return 'a list';
  if (typeof data === 'object') return 'a mapping';
  if (typeof data === 'string') return `the string ${JSON.stringify(data.length > 40 ? `${data.slice(0, 40)}...` : data)}`;
  if (typeof data === 'number') return Number.isInteger(data) ? `the integer ${data}` : `the number ${data}`;
  return String(data);
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = row[j] as number;
      row[j] = Math.min(up + 1, (row[j - 1] as number) + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return row[b.length] as number;
}

function unknownKeyMessage(key: string, allowed: readonly string[]): string {
  const close = allowed.filter((k) => editDistance(k, key) <= 2 || k.toLowerCase() === key.toLowerCase());
  const hint = close.length ? `did you mean ${close.map((k) => `"${k}"`).join(' or ')}?` : `allowed keys: ${allowed.join(', ')}`;
  return `unknown key "${key}" (${hint})`;
}

/** One ajv error -> field path, message and whether it points at a key. */
function schemaProblem(e: ErrorObject): { path: FieldPath; message: string; key?: boolean } {
  const path: (string | number)[] = e.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const props = (e.parentSchema as { properties?: Record<string, unknown> } | undefined)?.properties ?? {};
      return { path: [...path, key], message: unknownKeyMessage(key, Object.keys(props)), key: true };
    }
    case 'required':
      return { path: [...path, String(params.missingProperty)], message: 'missing required key' };
    case 'type': {
      const types = ([] as string[]).concat(e.schema as string | string[]);
      // YAML 1.1 (Go's yaml.v2) read yes/no/on/off as booleans; YAML 1.2 reads them as strings.
      const hint = types.includes('boolean') && typeof e.data === 'string' && /^(y|yes|n|no|on|off)$/i.test(e.data)
        ? ' (write true or false)' : '';
      return { path, message: `must be ${types.map((t) => TYPE_TEXT[t] ?? t).join(' or ')}, got ${describe(e.data)}${hint}` };
    }
    case 'enum':
      return { path, message: `must be one of ${(e.schema as unknown[]).map((v) => JSON.stringify(v)).join(', ')}, got ${describe(e.data)}` };
    case 'minimum':
    case 'maximum':
      return { path, message: `must be ${e.keyword === 'minimum' ? '>=' : '<='} ${String(params.limit)}, got ${describe(e.data)}` };
    case 'minItems':
      return { path, message: 'must not be an empty list' };
    case 'minLength':
      return { path, message: 'must not be empty' };
    case 'uniqueItems': {
      const [first, dup] = [Number(params.i), Number(params.j)].sort((a, b) => a - b);
      return { path: [...path, dup as number], message: `duplicate of item ${first}` };
    }
    default:
      return { path, message: e.message ?? e.keyword };
  }
}

function yamlProblem(file: string, locator: Locator, err: YAMLError): ConfigProblem {
  const { line, column } = locator.position(err.pos[0]);
  // Without prettyErrors the message is one line, without a source excerpt.
  return { file, line, column, field: '', message: `YAML: ${err.message.split('\n')[0]}` };
}

/** Parse and validate config text; `file` names it in problems. Throws ConfigError with every problem. */
export function parseConfig(text: string, file: string): LoadedConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, merge: true, uniqueKeys: true });
  const locator = new Locator(text, doc, lines);
  const problems: ConfigProblem[] = [];
  const report: ProblemSink = (path, message, where) => {
    const { line, column } = locator.position(locator.offset(path, where));
    problems.push({ file, line, column, field: formatField(path), message });
  };
  function fail(): never {
    problems.sort((a, b) => a.line - b.line || a.column - b.column);
    throw new ConfigError(problems);
  }

  for (const err of [...doc.errors, ...doc.warnings]) problems.push(yamlProblem(file, locator, err));
  if (problems.length) fail();

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    // e.g. an alias bomb exceeding maxAliasCount
    problems.push({ file, line: 1, column: 1, field: '', message: `YAML: ${err instanceof Error ? err.message : String(err)}` });
    fail();
  }
  if (data === null || data === undefined) {
    problems.push({ file, line: 1, column: 1, field: '', message: 'config is empty: expected a mapping with a process_names list' });
    fail();
  }

  if (!validate(data)) {
    const seen = new Set<string>();
    for (const e of validate.errors ?? []) {
      const { path, message, key } = schemaProblem(e);
      const id = `${formatField(path)}\0${message}`;
      if (seen.has(id)) continue;
      seen.add(id);
      report(path, message, { key });
    }
  }
  const raw = data as Partial<RawConfig>;
  const matcher = compileRules(raw.process_names, ['process_names'], report);
  if (problems.length || !matcher) fail();

  const valid = data as RawConfig;
  return {
    file,
    matcher,
    psi: { ...DEFAULT_PSI, ...valid.psi },
    perf: {
      enabled: valid.perf?.enabled ?? DEFAULT_PERF.enabled,
      events: valid.perf?.events ?? DEFAULT_PERF.events,
      scope: valid.perf?.scope ?? DEFAULT_PERF.scope,
      inherit: valid.perf?.inherit ?? DEFAULT_PERF.inherit,
      maxFds: valid.perf?.max_fds ?? DEFAULT_PERF.maxFds,
    },
    needs: { ...matcher.needs },
  };
}

/** Larger config files are refused: parsing one this size already holds the event loop ~100 ms. */
export const MAX_CONFIG_BYTES = 256 * 1024;

/** Read and parse a config file (at start-up). Throws ConfigError (code CONFIG_READ_FAILED when unreadable). */
export function loadConfigFile(path: string): LoadedConfig {
  let data: Buffer;
  try {
    data = readRegularFileSync(path, MAX_CONFIG_BYTES);
  } catch (err) {
    throw readFailed(path, err);
  }
  return parseConfig(data.toString('utf8'), path);
}

/** loadConfigFile() without blocking the event loop on the file (for reloads while serving). */
export async function readConfigFile(path: string): Promise<LoadedConfig> {
  let data: Buffer;
  try {
    data = await readRegularFile(path, MAX_CONFIG_BYTES);
  } catch (err) {
    throw readFailed(path, err);
  }
  return parseConfig(data.toString('utf8'), path);
}

function readFailed(path: string, err: unknown): unknown {
  if (!(err instanceof FileRefusedError)) return err;
  const message = `cannot read config file: ${err.message}`;
  return new ConfigError([{ file: path, line: 0, column: 0, field: '', message }], { cause: err, code: 'CONFIG_READ_FAILED' });
}
