/**
 * A strict subset of Go's text/template for group names and labels.
 *
 * Supported, with Go's meaning:
 *   text, {{.Var}}, {{.Matches.Name}}, {{"literal"}}, {{`raw`}}, comments {{/* ... *\/}},
 *   trim markers {{- and -}},
 *   {{if COND}}...{{else if COND}}...{{else}}...{{end}},
 *   functions not, and, or (short-circuit, return an argument like Go), eq (eq a b c = a==b || a==c), ne,
 *   and one extension, match VALUE "REGEX" (Go regexp syntax, must match the whole value),
 *   with parentheses for nesting: {{if and (eq .PPID 1) (match .Comm "kube.*")}}.
 * Everything else Go templates allow (pipelines, variables, range, with, printf, method calls) is
 * rejected at load time, as are unknown variables and .Matches names no regex of the rule defines.
 * Printing follows Go: ints in decimal, .StartTime like Go's time.Time String(), .Cgroups like
 * fmt's []string ("[a b]"), booleans "true"/"false".
 */
import { compileGoRegex, GoRegexError, type GoRegex } from './re2.js';

export const TEMPLATE_VARS = [
  'Comm', 'ExeBase', 'ExeFull', 'Username', 'PID', 'PPID', 'StartTime', 'Cgroups',
  'Cgroup', 'ContainerID', 'Container', 'Pod', 'Namespace', 'PodUID',
] as const;
export type TemplateVar = (typeof TEMPLATE_VARS)[number];

type ValueType = 'string' | 'int' | 'bool' | 'time' | 'list' | 'any';

const VAR_TYPES: Record<TemplateVar, ValueType> = {
  Comm: 'string', ExeBase: 'string', ExeFull: 'string', Username: 'string', PID: 'int', PPID: 'int',
  StartTime: 'time', Cgroups: 'list', Cgroup: 'string', ContainerID: 'string', Container: 'string',
  Pod: 'string', Namespace: 'string', PodUID: 'string',
};

/** Process start time; printed like Go's time.Time.String() in UTC. */
export class StartTime {
  constructor(readonly unixSeconds: number) {}
  toString(): string {
    const ms = Math.round(this.unixSeconds * 1000);
    const d = new Date(ms);
    const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
    const frac = ms % 1000 === 0 ? '' : `.${pad(((ms % 1000) + 1000) % 1000, 3).replace(/0+$/, '')}`;
    return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
      `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}${frac} +0000 UTC`;
  }
}

export type TemplateValue = string | number | boolean | StartTime | readonly string[];

/** Supplies variable values on demand; the caller memoizes and reads /proc lazily. */
export interface TemplateScope {
  value(name: TemplateVar): TemplateValue;
  /** a named capture of the rule's regexes ("" when the group did not participate) */
  capture(name: string): string;
}

export class TemplateError extends Error {
  /** index into the template source */
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(message);
    this.name = 'TemplateError';
    this.offset = offset;
  }
}

export interface CompiledTemplate {
  readonly source: string;
  /** variables the template may read (any branch) */
  readonly vars: ReadonlySet<TemplateVar>;
  /** .Matches names it may read */
  readonly captures: ReadonlySet<string>;
  render(scope: TemplateScope): string;
}

export interface TemplateOptions {
  /** capture names the rule's regexes define; .Matches.X with another X is an error */
  captureNames: ReadonlySet<string>;
}

// ---- AST ----

type Expr =
  | { kind: 'var'; name: TemplateVar }
  | { kind: 'capture'; name: string }
  | { kind: 'string'; value: string }
  | { kind: 'int'; value: number }
  | { kind: 'call'; fn: FnName; args: Expr[]; regex?: GoRegex };

type FnName = 'not' | 'and' | 'or' | 'eq' | 'ne' | 'match';
const FUNCTIONS = new Set<string>(['not', 'and', 'or', 'eq', 'ne', 'match']);
const UNSUPPORTED_KEYWORDS = new Set([
  'range', 'with', 'define', 'template', 'block', 'break', 'continue', 'nil',
  'print', 'printf', 'println', 'len', 'index', 'slice', 'html', 'js', 'urlquery', 'call',
  'lt', 'le', 'gt', 'ge',
]);

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'output'; expr: Expr }
  | { kind: 'if'; branches: { cond: Expr; body: Node[] }[]; otherwise: Node[] };

// ---- lexing of one action ----

type Token =
  | { t: 'field'; path: string[]; pos: number }
  | { t: 'ident'; name: string; pos: number }
  | { t: 'string'; value: string; pos: number }
  | { t: 'int'; value: number; pos: number }
  | { t: '('; pos: number }
  | { t: ')'; pos: number };

const GO_ESCAPES: Record<string, string> = {
  a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"',
};

function lexAction(src: string, from: number, to: number): Token[] {
  const tokens: Token[] = [];
  let i = from;
  while (i < to) {
    const c = src[i] as string;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    const pos = i;
    if (c === '(' || c === ')') {
      tokens.push({ t: c, pos });
      i++;
    } else if (c === '.') {
      const m = /^(?:\.[A-Za-z_][A-Za-z0-9_]*)+/.exec(src.slice(i, to));
      if (!m) throw new TemplateError(src[i + 1] === undefined || i + 1 >= to ? '{{.}} (the whole data) is not supported; name a variable like .Comm' : `bad field syntax at '${src.slice(i, to).trim()}'`, pos);
      tokens.push({ t: 'field', path: m[0].slice(1).split('.'), pos });
      i += m[0].length;
    } else if (c === '"') {
      let value = '';
      i++;
      for (;;) {
        if (i >= to) throw new TemplateError('unterminated string literal', pos);
        const ch = src[i] as string;
        if (ch === '"') break;
        if (ch === '\n') throw new TemplateError('newline in string literal', pos);
        if (ch === '\\') {
          const e = src[i + 1] ?? '';
          const mapped = GO_ESCAPES[e];
          if (mapped === undefined) throw new TemplateError(`unsupported escape \\${e} in string literal`, i);
          value += mapped;
          i += 2;
        } else {
          value += ch;
          i++;
        }
      }
      i++;
      tokens.push({ t: 'string', value, pos });
    } else if (c === '`') {
      const end = src.indexOf('`', i + 1);
      if (end < 0 || end >= to) throw new TemplateError('unterminated raw string', pos);
      tokens.push({ t: 'string', value: src.slice(i + 1, end), pos });
      i = end + 1;
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(?![A-Za-z0-9_.])/.exec(src.slice(i, to));
      if (!m) throw new TemplateError(`unsupported number syntax '${src.slice(i, to).trim()}' (decimal integers only)`, pos);
      tokens.push({ t: 'int', value: Number(m[0]), pos });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(i, to)) as RegExpExecArray;
      tokens.push({ t: 'ident', name: m[0], pos });
      i += m[0].length;
    } else if (c === '|') {
      throw new TemplateError('pipelines (|) are not supported', pos);
    } else if (c === '$') {
      throw new TemplateError('template variables ($x) are not supported', pos);
    } else {
      throw new TemplateError(`unexpected '${c}' in action`, pos);
    }
  }
  return tokens;
}

// ---- parsing ----

interface Action {
  /** offset of the action's `{{` */
  pos: number;
  tokens: Token[];
}

class ExprParser {
  private k = 0;
  constructor(
    private readonly tokens: Token[],
    private readonly opts: TemplateOptions,
    private readonly end: number,
  ) {}

  done(): boolean {
    return this.k >= this.tokens.length;
  }

  /** A command: `fn arg...` or a single operand. */
  command(): Expr {
    const tok = this.tokens[this.k];
    if (tok?.t === 'ident' && FUNCTIONS.has(tok.name)) {
      this.k++;
      const args: Expr[] = [];
      while (!this.done() && this.tokens[this.k]?.t !== ')') args.push(this.operand());
      return this.call(tok.name as FnName, args, tok.pos);
    }
    return this.operand();
  }

  private operand(): Expr {
    const tok = this.tokens[this.k++];
    if (tok === undefined) throw new TemplateError('missing value', this.end);
    switch (tok.t) {
      case 'string': return { kind: 'string', value: tok.value };
      case 'int': return { kind: 'int', value: tok.value };
      case 'field': return this.field(tok.path, tok.pos);
      case '(': {
        const inner = this.command();
        const close = this.tokens[this.k++];
        if (close?.t !== ')') throw new TemplateError('missing )', close?.pos ?? this.end);
        return inner;
      }
      case ')': throw new TemplateError('unexpected )', tok.pos);
      case 'ident':
        if (FUNCTIONS.has(tok.name)) {
          throw new TemplateError(`function ${tok.name} used as an argument: wrap it in parentheses`, tok.pos);
        }
        if (tok.name === 'true' || tok.name === 'false') {
          throw new TemplateError('boolean constants are not supported', tok.pos);
        }
        throw new TemplateError(UNSUPPORTED_KEYWORDS.has(tok.name)
          ? `'${tok.name}' is not supported in this template subset`
          : `unknown function '${tok.name}'`, tok.pos);
    }
  }

  private field(path: string[], pos: number): Expr {
    const [head, ...rest] = path;
    if (head === 'Matches') {
      if (rest.length !== 1) {
        throw new TemplateError('use .Matches.NAME with the name of a capture group, e.g. .Matches.Port', pos);
      }
      const name = rest[0] as string;
      if (!this.opts.captureNames.has(name)) {
        const known = [...this.opts.captureNames];
        throw new TemplateError(`.Matches.${name}: no regex of this rule has a capture group named '${name}'` +
          (known.length ? ` (defined: ${known.join(', ')})` : ''), pos);
      }
      return { kind: 'capture', name };
    }
    if (!(TEMPLATE_VARS as readonly string[]).includes(head ?? '')) {
      throw new TemplateError(`unknown variable .${head}; known: ${TEMPLATE_VARS.map((v) => `.${v}`).join(' ')} .Matches.NAME`, pos);
    }
    if (rest.length) throw new TemplateError(`.${path.join('.')}: fields or methods of .${head} are not supported`, pos);
    return { kind: 'var', name: head as TemplateVar };
  }

  private call(fn: FnName, args: Expr[], pos: number): Expr {
    const arity = (min: number, max = Infinity): void => {
      if (args.length < min || args.length > max) {
        const want = max === min ? `${min}` : max === Infinity ? `at least ${min}` : `${min}-${max}`;
        throw new TemplateError(`${fn} takes ${want} argument${min === 1 && max === 1 ? '' : 's'}, got ${args.length}`, pos);
      }
    };
    switch (fn) {
      case 'not':
        arity(1, 1);
        return { kind: 'call', fn, args };
      case 'and':
      case 'or':
        arity(1);
        return { kind: 'call', fn, args };
      case 'eq':
      case 'ne': {
        if (fn === 'eq') arity(2); else arity(2, 2);
        const types = args.map(typeOf);
        const first = types[0];
        if (types.some((t) => t !== 'string' && t !== 'int') || types.some((t) => t !== first)) {
          throw new TemplateError(`${fn}: arguments must all be strings or all be integers (got ${types.join(', ')})`, pos);
        }
        return { kind: 'call', fn, args };
      }
      case 'match': {
        arity(2, 2);
        const [value, pattern] = args as [Expr, Expr];
        if (typeOf(value) !== 'string') throw new TemplateError(`match: first argument must be a string value (got ${typeOf(value)})`, pos);
        if (pattern.kind !== 'string') throw new TemplateError('match: second argument must be a quoted regex literal', pos);
        try {
          return { kind: 'call', fn, args, regex: compileGoRegex(pattern.value, { anchored: true }) };
        } catch (err) {
          if (err instanceof GoRegexError) throw new TemplateError(`match: ${err.message}`, pos);
          throw err;
        }
      }
    }
  }
}

function typeOf(e: Expr): ValueType {
  switch (e.kind) {
    case 'var': return VAR_TYPES[e.name];
    case 'capture':
    case 'string': return 'string';
    case 'int': return 'int';
    case 'call': return e.fn === 'and' || e.fn === 'or' ? 'any' : 'bool';
  }
}

/** Split into text and actions, honouring trim markers and skipping comments. */
function scan(src: string): (string | Action)[] {
  const parts: (string | Action)[] = [];
  let i = 0;
  let trimNextText = false;
  while (i <= src.length) {
    const open = src.indexOf('{{', i);
    let text = src.slice(i, open < 0 ? src.length : open);
    if (trimNextText) text = text.replace(/^[ \t\r\n]+/, '');
    trimNextText = false;
    if (open < 0) {
      if (text) parts.push(text);
      break;
    }
    let start = open + 2;
    if (/^-[ \t\r\n]/.test(src.slice(start))) {
      text = text.replace(/[ \t\r\n]+$/, '');
      start += 2;
    }
    if (text) parts.push(text);
    const close = findClose(src, start, open);
    let end = close;
    if (/[ \t\r\n]-$/.test(src.slice(start, close))) {
      trimNextText = true;
      end = close - 2;
    }
    const body = src.slice(start, end);
    const trimmed = body.trim();
    if (trimmed.startsWith('/*')) {
      if (!trimmed.endsWith('*/') || trimmed.length < 4) throw new TemplateError('unclosed comment', open);
    } else {
      parts.push({ pos: open, tokens: lexAction(src, start, end) });
    }
    i = close + 2;
  }
  return parts;
}

/** Position of the `}}` closing the action that starts at `from`, skipping string literals. */
function findClose(src: string, from: number, open: number): number {
  let i = from;
  const commentStart = /^\s*\/\*/.exec(src.slice(from));
  if (commentStart) {
    const end = src.indexOf('*/', from + commentStart[0].length);
    if (end < 0) throw new TemplateError('unclosed comment', open);
    i = end + 2;
  }
  while (i < src.length) {
    const c = src[i];
    if (c === '}' && src[i + 1] === '}') return i;
    if (c === '"') {
      i++;
      while (i < src.length && src[i] !== '"' && src[i] !== '\n') i += src[i] === '\\' ? 2 : 1;
    } else if (c === '`') {
      const end = src.indexOf('`', i + 1);
      if (end < 0) break;
      i = end;
    }
    i++;
  }
  throw new TemplateError('unclosed action: missing }}', open);
}

function parseNodes(src: string, opts: TemplateOptions): Node[] {
  const parts = scan(src);
  let p = 0;

  // Returns the nodes up to a terminator ({{else}}, {{else if}}, {{end}}) or the end of input.
  const block = (): { nodes: Node[]; stop: { word: 'else' | 'end' | 'eof'; action?: Action; cond?: Expr } } => {
    const nodes: Node[] = [];
    while (p < parts.length) {
      const part = parts[p++] as string | Action;
      if (typeof part === 'string') {
        nodes.push({ kind: 'text', text: part });
        continue;
      }
      const first = part.tokens[0];
      if (first === undefined) throw new TemplateError('empty action {{}}', part.pos);
      if (first.t === 'ident' && (first.name === 'end' || first.name === 'else')) {
        if (first.name === 'end') {
          if (part.tokens.length > 1) throw new TemplateError('unexpected words after end', part.pos);
          return { nodes, stop: { word: 'end', action: part } };
        }
        const next = part.tokens[1];
        if (next === undefined) return { nodes, stop: { word: 'else', action: part } };
        if (next.t === 'ident' && next.name === 'if') {
          return { nodes, stop: { word: 'else', action: part, cond: condition(part, 2) } };
        }
        throw new TemplateError('unexpected words after else (only "else if" is supported)', part.pos);
      }
      if (first.t === 'ident' && first.name === 'if') {
        nodes.push(ifNode(part));
        continue;
      }
      const parser = new ExprParser(part.tokens, opts, part.pos);
      const expr = parser.command();
      if (!parser.done()) throw new TemplateError('unexpected extra words in action', part.pos);
      nodes.push({ kind: 'output', expr });
    }
    return { nodes, stop: { word: 'eof' } };
  };

  const condition = (action: Action, skip: number): Expr => {
    const tokens = action.tokens.slice(skip);
    if (tokens.length === 0) throw new TemplateError('missing condition after if', action.pos);
    const parser = new ExprParser(tokens, opts, action.pos);
    const cond = parser.command();
    if (!parser.done()) throw new TemplateError('unexpected extra words in if condition', action.pos);
    return cond;
  };

  const ifNode = (action: Action): Node => {
    const branches = [{ cond: condition(action, 1), body: [] as Node[] }];
    let otherwise: Node[] = [];
    for (;;) {
      const { nodes, stop } = block();
      const current = branches[branches.length - 1] as { body: Node[] };
      if (stop.word === 'eof') throw new TemplateError('unclosed {{if}}: missing {{end}}', action.pos);
      if (stop.word === 'end') {
        current.body = nodes;
        break;
      }
      current.body = nodes;
      if (stop.cond) {
        branches.push({ cond: stop.cond, body: [] });
        continue;
      }
      const rest = block();
      if (rest.stop.word !== 'end') {
        throw new TemplateError(rest.stop.word === 'eof' ? 'unclosed {{if}}: missing {{end}}' : '{{else}} after {{else}}', rest.stop.action?.pos ?? action.pos);
      }
      otherwise = rest.nodes;
      break;
    }
    return { kind: 'if', branches, otherwise };
  };

  const top = block();
  if (top.stop.word !== 'eof') {
    throw new TemplateError(`unexpected {{${top.stop.word}}} without {{if}}`, top.stop.action?.pos ?? 0);
  }
  return top.nodes;
}

// ---- evaluation ----

function truthy(v: TemplateValue): boolean {
  if (typeof v === 'string') return v !== '';
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'boolean') return v;
  if (v instanceof StartTime) return true;
  return v.length > 0;
}

function print(v: TemplateValue): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (v instanceof StartTime) return v.toString();
  return `[${v.join(' ')}]`;
}

function evaluate(e: Expr, scope: TemplateScope): TemplateValue {
  switch (e.kind) {
    case 'var': return scope.value(e.name);
    case 'capture': return scope.capture(e.name);
    case 'string':
    case 'int': return e.value;
    case 'call': {
      switch (e.fn) {
        case 'not': return !truthy(evaluate(e.args[0] as Expr, scope));
        case 'and':
        case 'or': {
          let v: TemplateValue = false;
          for (const a of e.args) {
            v = evaluate(a, scope);
            if (truthy(v) === (e.fn === 'or')) return v;
          }
          return v;
        }
        case 'eq': {
          const first = evaluate(e.args[0] as Expr, scope);
          return e.args.slice(1).some((a) => evaluate(a, scope) === first);
        }
        case 'ne': return evaluate(e.args[0] as Expr, scope) !== evaluate(e.args[1] as Expr, scope);
        case 'match': return (e.regex as GoRegex).test(evaluate(e.args[0] as Expr, scope) as string);
      }
    }
  }
}

function renderNodes(nodes: readonly Node[], scope: TemplateScope): string {
  let out = '';
  for (const n of nodes) {
    if (n.kind === 'text') out += n.text;
    else if (n.kind === 'output') out += print(evaluate(n.expr, scope));
    else {
      const branch = n.branches.find((b) => truthy(evaluate(b.cond, scope)));
      out += renderNodes(branch ? branch.body : n.otherwise, scope);
    }
  }
  return out;
}

function collect(nodes: readonly Node[], vars: Set<TemplateVar>, captures: Set<string>): void {
  const walk = (e: Expr): void => {
    if (e.kind === 'var') vars.add(e.name);
    else if (e.kind === 'capture') captures.add(e.name);
    else if (e.kind === 'call') e.args.forEach(walk);
  };
  for (const n of nodes) {
    if (n.kind === 'output') walk(n.expr);
    else if (n.kind === 'if') {
      for (const b of n.branches) {
        walk(b.cond);
        collect(b.body, vars, captures);
      }
      collect(n.otherwise, vars, captures);
    }
  }
}

/** Parse and check a template once; throws TemplateError naming the offset of the problem. */
export function compileTemplate(source: string, opts: TemplateOptions): CompiledTemplate {
  const nodes = parseNodes(source, opts);
  const vars = new Set<TemplateVar>();
  const captures = new Set<string>();
  collect(nodes, vars, captures);
  const constant = nodes.every((n) => n.kind === 'text') ? nodes.map((n) => (n as { text: string }).text).join('') : undefined;
  return {
    source,
    vars,
    captures,
    render: constant !== undefined ? () => constant : (scope) => renderNodes(nodes, scope),
  };
}
