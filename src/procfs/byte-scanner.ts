/**
 * Minimal cursor over ASCII bytes of a /proc file, so numbers are parsed straight from the read
 * buffer without decoding the file to a string.
 */
const MAX_DIGITS = 20;

export class ByteScanner {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    readonly end: number,
    start = 0,
  ) {
    this.pos = start;
  }

  get done(): boolean {
    return this.pos >= this.end;
  }

  skipSpaces(): void {
    while (this.pos < this.end && (this.buf[this.pos] === 0x20 || this.buf[this.pos] === 0x09)) this.pos++;
  }

  /** Skips past the next newline (or to the end). */
  nextLine(): void {
    while (this.pos < this.end && this.buf[this.pos] !== 0x0a) this.pos++;
    this.pos++;
  }

  /** Skips one whitespace-separated field. */
  skipField(): void {
    this.skipSpaces();
    while (this.pos < this.end) {
      const c = this.buf[this.pos];
      if (c === 0x20 || c === 0x0a || c === 0x09) break;
      this.pos++;
    }
  }

  /**
   * Parses a decimal integer (optional '-') after optional blanks; NaN when there is none, or
   * when it has more digits than a 64-bit value (20), which the kernel never writes.
   * Values above 2^53 lose precision, which no counter read here reaches.
   */
  int(): number {
    this.skipSpaces();
    let neg = false;
    if (this.buf[this.pos] === 0x2d) {
      neg = true;
      this.pos++;
    }
    const start = this.pos;
    let v = 0;
    while (this.pos < this.end) {
      const d = (this.buf[this.pos] as number) - 48;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
      this.pos++;
    }
    if (this.pos === start || this.pos - start > MAX_DIGITS) return NaN;
    return neg ? -v : v;
  }

  /** True when the bytes at the cursor equal `prefix` (ASCII); advances past it when they do. */
  take(prefix: Uint8Array): boolean {
    const n = prefix.length;
    if (this.pos + n > this.end) return false;
    for (let k = 0; k < n; k++) {
      if (this.buf[this.pos + k] !== prefix[k]) return false;
    }
    this.pos += n;
    return true;
  }
}

export function ascii(s: string): Uint8Array {
  return Buffer.from(s, 'latin1');
}
