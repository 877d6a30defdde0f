/**
 * Go (RE2) regular expressions -> JavaScript RegExp.
 *
 * process-exporter configs are written in Go's regexp syntax. Most of it is JavaScript syntax too;
 * this translator rewrites the rest so a pattern means the same thing in both:
 *   (?P<name>re)       -> (?<name>re)
 *   (?i)(?m)(?s) at the very start -> JS flags (Go's `.` never matches \n without (?s); JS's `.`
 *                         also skips \r and U+2028/9, so `.` is emitted as [^\n] or [\s\S])
 *   \A \z              -> lookarounds that assert the start/end of the text
 *   \Q...\E            -> escaped literal
 *   \x{10FFFF}         -> \u{10FFFF};  \a -> \x07;  octal \0, \012 -> \u{..}
 *   \pL, \p{Greek}     -> \p{L}, \p{Script=Greek}
 *   [[:alpha:]] ...    -> ASCII ranges (negated forms become nested negated classes)
 *   literal { } ] and escaped punctuation -> escaped for the JS `v` flag
 * What JavaScript cannot express, or Go itself rejects, is an error naming the position:
 * inline flags after the start or in groups ((?i:...)), (?U), \C, backreferences, lookarounds.
 * Regexes run with the `v` flag (Unicode code points, like Go's rune matching).
 * Known difference kept: \s and \S use JavaScript's Unicode whitespace (Go: [\t\n\f\r ]).
 */

export class GoRegexError extends Error {
  /** index into the Go source where the problem starts */
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(message);
    this.name = 'GoRegexError';
    this.offset = offset;
  }
}

export interface GoRegex {
  readonly source: string;
  readonly regex: RegExp;
  /** named capture groups, in order of appearance */
  readonly groupNames: readonly string[];
}

export interface GoRegexOptions {
  /** the whole text must match (Prometheus label-matcher style) instead of Go's unanchored search */
  anchored?: boolean;
}

// Go's maximum repeat count (regexp/syntax: "invalid repeat count").
const MAX_REPEAT = 1000;

// Characters that must be escaped outside a class to be literal in JS.
const JS_SYNTAX = new Set('^$\\.*+?()[]{}|/');
// Characters escaped inside a `v`-mode class: syntax characters plus ClassSetReservedPunctuator.
const JS_CLASS_ESCAPABLE = new Set('^$\\.*+?()[]{}|/&-!#%,:;<=>@`~');

const POSIX_CLASSES: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '\\!-\\~',
  lower: 'a-z',
  print: ' -\\~',
  punct: '\\!-\\/\\:-\\@\\[-\\`\\{-\\~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

const GENERAL_CATEGORIES = new Set([
  'L', 'Lu', 'Ll', 'Lt', 'Lm', 'Lo', 'M', 'Mn', 'Mc', 'Me', 'N', 'Nd', 'Nl', 'No',
  'P', 'Pc', 'Pd', 'Ps', 'Pe', 'Pi', 'Pf', 'Po', 'S', 'Sm', 'Sc', 'Sk', 'So',
  'Z', 'Zs', 'Zl', 'Zp', 'C', 'Cc', 'Cf', 'Cs', 'Co', 'Any',
]);

function isOctal(c: string | undefined): boolean {
  return c !== undefined && c >= '0' && c <= '7';
}

function isHex(c: string | undefined): boolean {
  return c !== undefined && /^[0-9A-Fa-f]$/.test(c);
}

function codePointEscape(cp: number): string {
  return `\\u{${cp.toString(16)}}`;
}

function literalOutside(ch: string): string {
  return JS_SYNTAX.has(ch) ? `\\${ch}` : ch;
}

function literalInClass(ch: string): string {
  return JS_CLASS_ESCAPABLE.has(ch) ? `\\${ch}` : ch;
}

/** One element of a character class or an escape outside one. */
type Atom =
  | { kind: 'char'; cp: number }
  /** a class escape (\d, \p{L}, ...) or a whole nested class, already in JS syntax */
  | { kind: 'set'; js: string }
  /** an assertion or other outside-only construct, already in JS syntax */
  | { kind: 'raw'; js: string };

class Translator {
  private i = 0;
  private readonly groupNames: string[] = [];
  private dotAll = false;

  constructor(private readonly src: string) {}

  translate(): { body: string; flags: string; groupNames: string[] } {
    let flags = '';
    // Leading (?flags) groups apply to the whole regex: the one place JS can express them.
    for (;;) {
      const m = /^\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?\)/.exec(this.src.slice(this.i));
      if (!m || m[0] === '(?)' || m[0] === '(?-)') break;
      for (const [set, letters] of [[true, m[1] ?? ''], [false, m[2] ?? '']] as const) {
        for (const f of letters) {
          if (f === 'i' || f === 'm') {
            flags = set ? (flags.includes(f) ? flags : flags + f) : flags.replace(f, '');
          } else if (f === 's') {
            this.dotAll = set;
          } else if (f === 'U') {
            throw new GoRegexError('the ungreedy flag (?U) is not supported; write lazy quantifiers (*?, +?) instead', this.i);
          } else {
            throw new GoRegexError(`unknown flag '${f}' in ${m[0]}`, this.i);
          }
        }
      }
      this.i += m[0].length;
    }
    let body = '';
    while (this.i < this.src.length) body += this.outside();
    return { body, flags, groupNames: this.groupNames };
  }

  private peek(k = 0): string | undefined {
    return this.src[this.i + k];
  }

  private outside(): string {
    const start = this.i;
    const c = this.src[this.i++] as string;
    switch (c) {
      case '\\': {
        const atom = this.escape(start, false);
        if (atom.kind === 'char') return literalOutsideCp(atom.cp);
        return atom.js;
      }
      case '[':
        return this.charClass(start);
      case '(':
        return this.group(start);
      case '.':
        return this.dotAll ? '[\\s\\S]' : '[^\\n]';
      case '{':
        return this.brace(start);
      case '}':
      case ']':
      case '/':
        return `\\${c}`;
      default:
        return c;
    }
  }

  /** `{` starts a repetition only when it forms {n}, {n,} or {n,m}; otherwise Go reads it literally. */
  private brace(start: number): string {
    const m = /^(\d+)(,(\d*))?\}/.exec(this.src.slice(this.i));
    if (!m) return '\\{';
    const min = Number(m[1]);
    const max = m[3] !== undefined && m[3] !== '' ? Number(m[3]) : undefined;
    if (min > MAX_REPEAT || (max !== undefined && max > MAX_REPEAT)) {
      throw new GoRegexError(`repeat count above ${MAX_REPEAT} in ${this.src.slice(start, this.i + m[0].length)}`, start);
    }
    if (max !== undefined && max < min) {
      throw new GoRegexError(`invalid repeat count ${this.src.slice(start, this.i + m[0].length)}`, start);
    }
    this.i += m[0].length;
    return `{${m[0]}`;
  }

  private group(start: number): string {
    if (this.peek() !== '?') return '(';
    const rest = this.src.slice(this.i + 1);
    const named = /^(?:P?<)([^>]*)>/.exec(rest);
    if (named && (rest.startsWith('P<') || /^<[^=!]/.test(rest))) {
      const name = named[1] ?? '';
      if (!/^[A-Za-z0-9_]+$/.test(name)) {
        throw new GoRegexError(`invalid capture group name '${name}'`, start);
      }
      if (/^[0-9]/.test(name)) {
        throw new GoRegexError(`capture group name '${name}' must not start with a digit (JavaScript cannot name it)`, start);
      }
      if (this.groupNames.includes(name)) {
        throw new GoRegexError(`duplicate capture group name '${name}'`, start);
      }
      this.groupNames.push(name);
      this.i += 1 + named[0].length;
      return `(?<${name}>`;
    }
    if (rest.startsWith(':')) {
      this.i += 2;
      return '(?:';
    }
    if (/^(=|!|<=|<!)/.test(rest)) {
      throw new GoRegexError('lookahead/lookbehind assertions are not Go regexp syntax', start);
    }
    if (rest.startsWith('P=') || rest.startsWith('P>')) {
      throw new GoRegexError('backreferences are not supported by Go regexps', start);
    }
    if (/^-?[a-zA-Z]+(-[a-zA-Z]*)?[:)]/.test(rest)) {
      throw new GoRegexError(
        'inline flags are only supported at the very start of the regex, e.g. (?i)abc; JavaScript has no flag groups like (?i:...)',
        start,
      );
    }
    throw new GoRegexError('invalid or unsupported group syntax (?', start);
  }

  /** After a backslash. Returns a literal code point or JS syntax for a class/assertion. */
  private escape(start: number, inClass: boolean): Atom {
    const c = this.src[this.i++];
    if (c === undefined) throw new GoRegexError('trailing backslash at end of regex', start);
    switch (c) {
      case 'a': return { kind: 'char', cp: 0x07 };
      case 'f': return { kind: 'char', cp: 0x0c };
      case 't': return { kind: 'char', cp: 0x09 };
      case 'n': return { kind: 'char', cp: 0x0a };
      case 'r': return { kind: 'char', cp: 0x0d };
      case 'v': return { kind: 'char', cp: 0x0b };
      case 'd': case 'D': case 'w': case 'W': case 's': case 'S':
        return { kind: 'set', js: `\\${c}` };
      case 'b': case 'B':
        if (inClass) break;
        return { kind: 'raw', js: `\\${c}` };
      case 'A':
        if (inClass) break;
        return { kind: 'raw', js: '(?<![\\s\\S])' };
      case 'z':
        if (inClass) break;
        return { kind: 'raw', js: '(?![\\s\\S])' };
      case 'Q':
        if (inClass) break;
        return { kind: 'raw', js: this.quoted() };
      case 'C':
        throw new GoRegexError('\\C (any byte) is not supported', start);
      case 'x':
        return { kind: 'char', cp: this.hexEscape(start) };
      case 'p': case 'P':
        return { kind: 'set', js: this.unicodeClass(start, c === 'P') };
      case '0':
        return { kind: 'char', cp: this.octal(0, 2) };
      case '1': case '2': case '3': case '4': case '5': case '6': case '7':
        // A lone digit would be a backreference, which RE2 does not have.
        if (!isOctal(this.peek())) {
          throw new GoRegexError(`backreference \\${c} is not supported by Go regexps`, start);
        }
        return { kind: 'char', cp: this.octal(Number(c), 2) };
      default: {
        const code = c.codePointAt(0) ?? 0;
        // Go: a backslash before any ASCII punctuation makes it literal.
        if (code < 0x80 && !/[0-9A-Za-z]/.test(c)) return { kind: 'char', cp: code };
      }
    }
    throw new GoRegexError(`invalid escape sequence \\${c}${inClass ? ' inside a character class' : ''}`, start);
  }

  private octal(first: number, more: number): number {
    let v = first;
    for (let k = 0; k < more && isOctal(this.peek()); k++) v = v * 8 + Number(this.src[this.i++]);
    return v;
  }

  private hexEscape(start: number): number {
    if (this.peek() === '{') {
      const m = /^\{([0-9A-Fa-f]+)\}/.exec(this.src.slice(this.i));
      if (!m) throw new GoRegexError('invalid \\x{...} escape', start);
      const cp = parseInt(m[1] ?? '', 16);
      if (cp > 0x10ffff) throw new GoRegexError('\\x{...} escape beyond U+10FFFF', start);
      this.i += m[0].length;
      return cp;
    }
    if (isHex(this.peek()) && isHex(this.peek(1))) {
      const cp = parseInt(this.src.slice(this.i, this.i + 2), 16);
      this.i += 2;
      return cp;
    }
    throw new GoRegexError('invalid \\x escape: want \\xHH or \\x{H...}', start);
  }

  private unicodeClass(start: number, negatedByCase: boolean): string {
    let name: string;
    if (this.peek() === '{') {
      const end = this.src.indexOf('}', this.i);
      if (end < 0) throw new GoRegexError('missing } in Unicode class', start);
      name = this.src.slice(this.i + 1, end);
      this.i = end + 1;
    } else {
      name = this.src[this.i++] ?? '';
    }
    let negated = negatedByCase;
    if (name.startsWith('^')) {
      negated = !negated;
      name = name.slice(1);
    }
    if (!/^[A-Za-z_]+$/.test(name)) throw new GoRegexError(`invalid Unicode class name '${name}'`, start);
    const prop = GENERAL_CATEGORIES.has(name) ? name : `Script=${name}`;
    const js = `\\${negated ? 'P' : 'p'}{${prop}}`;
    try {
      new RegExp(js, 'v');
    } catch {
      throw new GoRegexError(`unknown Unicode class '${name}'`, start);
    }
    return js;
  }

  /** \Q...\E: everything up to \E (or the end) is literal. */
  private quoted(): string {
    const end = this.src.indexOf('\\E', this.i);
    const text = this.src.slice(this.i, end < 0 ? this.src.length : end);
    this.i = end < 0 ? this.src.length : end + 2;
    let out = '';
    for (const ch of text) out += literalOutsideCp(ch.codePointAt(0) ?? 0);
    return out;
  }

  private charClass(start: number): string {
    let out = '[';
    if (this.peek() === '^') {
      out += '^';
      this.i++;
    }
    let first = true;
    for (;;) {
      const c = this.peek();
      if (c === undefined) throw new GoRegexError('missing closing ] of character class', start);
      if (c === ']' && !first) {
        this.i++;
        return `${out}]`;
      }
      first = false;
      const atomStart = this.i;
      const lo = this.classAtom(start);
      // A range needs a single character on both sides; otherwise '-' is literal (Go's Perl mode).
      if (lo.kind === 'char' && this.peek() === '-' && this.peek(1) !== undefined && this.peek(1) !== ']') {
        this.i++;
        const hi = this.classAtom(start);
        if (hi.kind !== 'char') {
          throw new GoRegexError(`invalid character class range ${this.src.slice(atomStart, this.i)}`, atomStart);
        }
        if (hi.cp < lo.cp) {
          throw new GoRegexError(`invalid character class range ${this.src.slice(atomStart, this.i)}`, atomStart);
        }
        out += `${classCp(lo.cp)}-${classCp(hi.cp)}`;
      } else {
        out += lo.kind === 'char' ? classCp(lo.cp) : lo.js;
      }
    }
  }

  private classAtom(classStart: number): Atom {
    const start = this.i;
    const c = this.src[this.i] as string;
    if (c === '[' && this.peek(1) === ':') {
      const m = /^\[:(\^?)([a-z]+):\]/.exec(this.src.slice(this.i));
      if (m) {
        const ranges = POSIX_CLASSES[m[2] ?? ''];
        if (ranges === undefined) throw new GoRegexError(`unknown POSIX class [:${m[2]}:]`, start);
        this.i += m[0].length;
        return { kind: 'set', js: `[${m[1] ? '^' : ''}${ranges}]` };
      }
    }
    if (c === '\\') {
      this.i++;
      const atom = this.escape(start, true);
      if (atom.kind === 'raw') throw new GoRegexError('invalid escape inside a character class', start);
      return atom;
    }
    const cp = this.src.codePointAt(this.i) ?? 0;
    this.i += cp > 0xffff ? 2 : 1;
    if (this.i > this.src.length) throw new GoRegexError('missing closing ] of character class', classStart);
    return { kind: 'char', cp };
  }
}

function literalOutsideCp(cp: number): string {
  if (cp < 0x20 || cp === 0x7f) return codePointEscape(cp);
  return literalOutside(String.fromCodePoint(cp));
}

function classCp(cp: number): string {
  if (cp < 0x20 || cp === 0x7f) return codePointEscape(cp);
  return literalInClass(String.fromCodePoint(cp));
}

/** Translate Go regexp syntax to a JS RegExp. Throws GoRegexError with the offending offset. */
export function compileGoRegex(source: string, options: GoRegexOptions = {}): GoRegex {
  const { body, flags, groupNames } = new Translator(source).translate();
  const js = options.anchored ? `(?<![\\s\\S])(?:${body})(?![\\s\\S])` : body;
  let regex: RegExp;
  try {
    regex = new RegExp(js, `${flags}v`);
  } catch (err) {
    // What the translator let through but JS still rejects (e.g. "nothing to repeat").
    const detail = err instanceof Error ? err.message.replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, '') : String(err);
    throw new GoRegexError(`invalid regex: ${detail}`, 0);
  }
  return { source, regex, groupNames };
}
