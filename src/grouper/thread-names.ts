/**
 * Thread-name cardinality: names with counters in them (`worker-1234`, `pool-3-thread-17`,
 * `kworker/3:1`) would make one series set per thread. A digit run that starts the name or
 * follows a non-letter becomes `N`; digits glued to letters stay (`python3`, `ext4-rsv`, `C2`),
 * as they are part of a name rather than a counter.
 */

/** Thread names are at most 15 bytes, so the distinct inputs are bounded only by what processes choose: cap the memo. */
const MEMO_LIMIT = 4096;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

/** `worker-1234` -> `worker-N`, `pool-3-thread-17` -> `pool-N-thread-N`; `python3` unchanged. */
export function normalizeThreadName(name: string): string {
  let out: string | undefined;
  let copied = 0;
  for (let i = 0; i < name.length; i++) {
    if (!isDigit(name.charCodeAt(i)) || (i > 0 && isLetter(name.charCodeAt(i - 1)))) continue;
    let end = i + 1;
    while (end < name.length && isDigit(name.charCodeAt(end))) end++;
    out = (out ?? '') + name.slice(copied, i) + 'N';
    copied = end;
    i = end - 1;
  }
  return out === undefined ? name : out + name.slice(copied);
}

export interface ThreadNameOptions {
  /** replace counter-like digit runs (see normalizeThreadName); off for process-exporter parity */
  normalize: boolean;
  /** distinct names kept per group; later new names count as `other`. 0: no cap */
  maxPerGroup: number;
}

/** The bucket for names beyond a group's cap. */
export const OTHER_THREAD_NAME = 'other';

/** Maps raw thread names to the names series carry; memoised, since the same names recur every cycle. */
export class ThreadNamer {
  private readonly memo = new Map<string, string>();

  constructor(private readonly opts: ThreadNameOptions) {}

  /** The series name for `raw` in a group that already has the names in `known`. */
  name(raw: string, known: ReadonlyMap<string, unknown>): string {
    let name = raw;
    if (this.opts.normalize) {
      const memoised = this.memo.get(raw);
      if (memoised !== undefined) name = memoised;
      else {
        name = normalizeThreadName(raw);
        if (this.memo.size >= MEMO_LIMIT) this.memo.clear();
        this.memo.set(raw, name);
      }
    }
    const max = this.opts.maxPerGroup;
    if (max > 0 && known.size >= max && !known.has(name)) return OTHER_THREAD_NAME;
    return name;
  }
}
