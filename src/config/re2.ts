/**
 * Config regexes, in Go's regexp syntax, matched by re2js (a port of RE2): linear time in the
 * length of the text, so no command line, cgroup path or container name a process controls can
 * make matching backtrack. Go's syntax is RE2's own: (?P<name>re), (?i:re), \A, \z, \Q..\E,
 * [[:alpha:]], \pL, and \s meaning [\t\n\f\r ] all work as in process-exporter.
 */
import { RE2JS, RE2JSException, RE2JSSyntaxException } from 're2js';

export class GoRegexError extends Error {
  /** index into the Go source where the problem starts (0 when the engine does not say) */
  readonly offset: number;
  constructor(message: string, offset: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'GoRegexError';
    this.offset = offset;
  }
}

export interface GoRegexOptions {
  /** the whole text must match (Prometheus label-matcher style) instead of Go's unanchored search */
  anchored?: boolean;
}

/** A compiled Go regex. */
export class GoRegex {
  /** named capture groups, in order of appearance */
  readonly groupNames: readonly string[];
  private readonly re: RE2JS;
  private readonly groupCount: number;

  constructor(
    readonly source: string,
    private readonly opts: GoRegexOptions = {},
  ) {
    try {
      this.re = RE2JS.compile(source);
    } catch (err) {
      if (!(err instanceof RE2JSException)) throw err;
      const part = err instanceof RE2JSSyntaxException ? err.input : null;
      const at = part ? source.indexOf(part) : -1;
      const message = err instanceof RE2JSSyntaxException ? `${err.error}${part ? `: \`${part}\`` : ''}` : err.message;
      throw new GoRegexError(message, Math.max(at, 0), { cause: err });
    }
    const named = this.re.namedGroups();
    this.groupNames = Object.keys(named).sort((a, b) => (named[a] ?? 0) - (named[b] ?? 0));
    this.groupCount = this.re.groupCount();
  }

  /** Whether the regex matches (anywhere in the text, or all of it when anchored). */
  test(text: string): boolean {
    return this.opts.anchored ? this.re.testExact(text) : this.re.test(text);
  }

  /**
   * The capture groups of the leftmost match (index 0: the whole match; undefined: a group that
   * did not take part), or undefined when there is none.
   */
  exec(text: string): { groups: readonly (string | undefined)[]; named: Record<string, string> } | undefined {
    const m = this.re.matcher(text);
    if (!(this.opts.anchored ? m.matches() : m.find())) return undefined;
    const groups: (string | undefined)[] = [];
    for (let i = 0; i <= this.groupCount; i++) groups.push(m.group(i) ?? undefined);
    const named: Record<string, string> = {};
    for (const name of this.groupNames) named[name] = m.group(name) ?? '';
    return { groups, named };
  }
}

/** Compile a Go regex. Throws GoRegexError with the offending offset. */
export function compileGoRegex(source: string, opts: GoRegexOptions = {}): GoRegex {
  return new GoRegex(source, opts);
}
