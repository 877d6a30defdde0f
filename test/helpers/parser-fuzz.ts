/**
 * Property tests shared by the procfs and cgroup parser suites: random bytes, real files cut at
 * every length, real files with bytes flipped, and real files with their numbers replaced by huge
 * ones. Each parser must return a value its `valid` check accepts or throw one of its typed errors;
 * a TypeError, RangeError or any other exception is a failure.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { ExporterError } from '../../src/errors.js';

export interface ParserUnderTest {
  name: string;
  parse(bytes: Buffer): unknown;
  /** throws (assert) when the result is not a well-formed value of the parser's type */
  valid(result: unknown): void;
  /** error classes the parser may throw; none: it must never throw */
  errors: readonly (abstract new (...args: never[]) => ExporterError)[];
  /** real inputs (live /proc files, fixtures copied from real machines) */
  samples: readonly Buffer[];
}

function outcome(p: ParserUnderTest, input: Buffer): void {
  let result: unknown;
  try {
    result = p.parse(input);
  } catch (err) {
    if (p.errors.some((E) => err instanceof E)) return;
    throw new assert.AssertionError({
      message: `${p.name} threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)} for ${JSON.stringify(input.toString('latin1').slice(0, 300))}`,
    });
  }
  try {
    p.valid(result);
  } catch (err) {
    throw new assert.AssertionError({
      message: `${p.name} returned a malformed result ${safeJson(result)} for ${JSON.stringify(input.toString('latin1').slice(0, 300))}: ${(err as Error).message}`,
    });
  }
}

function safeJson(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => (x instanceof Map ? [...x] : typeof x === 'number' && !Number.isFinite(x) ? String(x) : x))?.slice(0, 300) ?? String(v);
}

/** Every number (a digit run not part of a name like avg10 or cpu0) replaced by `digits`. */
function withHugeNumbers(sample: Buffer, digits: string): Buffer {
  return Buffer.from(sample.toString('latin1').replace(/(?<![A-Za-z_\d])\d+(?![A-Za-z_\d])/g, digits), 'latin1');
}

export function fuzzParser(p: ParserUnderTest, runs = 1500): void {
  assert.ok(p.samples.length > 0, `${p.name}: no real samples`);
  // random bytes, and random text built from the characters these files use
  fc.assert(fc.property(fc.uint8Array({ maxLength: 2048 }), (a) => outcome(p, Buffer.from(a))), { numRuns: runs });
  const procChars = fc.constantFrom(...' \t\n:()-.=/_,0123456789abcdefxyzABCDEFkB\0\\');
  fc.assert(fc.property(fc.string({ unit: procChars, maxLength: 512 }), (s) => outcome(p, Buffer.from(s, 'latin1'))), { numRuns: runs });
  // real files cut at every length (long ones: at 400 evenly spread lengths)
  for (const sample of p.samples) {
    const step = Math.max(1, Math.floor(sample.length / 400));
    for (let n = 0; n <= sample.length; n += step) outcome(p, sample.subarray(0, n));
    outcome(p, sample);
  }
  // real files with random bytes overwritten, inserted or deleted
  fc.assert(
    fc.property(
      fc.constantFrom(...p.samples),
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 }), fc.constantFrom('set', 'insert', 'delete')), { minLength: 1, maxLength: 8 }),
      (sample, edits) => {
        let bytes = Buffer.from(sample);
        for (const [pos, byte, op] of edits) {
          const i = bytes.length === 0 ? 0 : pos % bytes.length;
          if (op === 'set' && bytes.length) bytes[i] = byte;
          else if (op === 'insert') bytes = Buffer.concat([bytes.subarray(0, i), Buffer.from([byte]), bytes.subarray(i)]);
          else bytes = Buffer.concat([bytes.subarray(0, i), bytes.subarray(i + 1)]);
        }
        outcome(p, bytes);
      },
    ),
    { numRuns: runs },
  );
  // huge values where the kernel writes numbers
  for (const sample of p.samples) {
    for (const digits of ['18446744073709551615', '18446744073709551616', '9'.repeat(25), '9'.repeat(400), '0'.repeat(50)]) {
      outcome(p, withHugeNumbers(sample, digits));
    }
  }
}

/** Parsers taking (buf, len): bytes past `len` (stale data in the reused read buffer) must not change the result. */
export function assertIgnoresBytesPastLength(name: string, parse: (buf: Buffer, len: number) => unknown, samples: readonly Buffer[]): void {
  fc.assert(
    fc.property(fc.constantFrom(...samples), fc.nat(), fc.uint8Array({ minLength: 1, maxLength: 64 }), (sample, cut, junk) => {
      const n = cut % (sample.length + 1);
      const exact = Buffer.from(sample.subarray(0, n));
      const padded = Buffer.concat([exact, Buffer.from(junk)]);
      const a = attempt(() => parse(exact, n));
      const b = attempt(() => parse(padded, n));
      assert.deepEqual(b, a, `${name}: result depends on bytes past len for ${JSON.stringify(exact.toString('latin1'))}`);
    }),
    { numRuns: 1000 },
  );
}

function attempt(f: () => unknown): unknown {
  try {
    return { ok: f() };
  } catch (err) {
    return { error: err instanceof Error ? err.constructor.name : String(err) };
  }
}

/** Small regular files under a directory (e.g. /proc/self or a cgroup), read now; unreadable ones skipped. */
export function readReal(paths: readonly string[]): Buffer[] {
  const out: Buffer[] = [];
  for (const p of paths) {
    try {
      const b = readFileSync(p);
      if (b.length > 0) out.push(b);
    } catch {
      // absent on this kernel (e.g. smaps_rollup before 4.14, /proc/pressure without psi=1)
    }
  }
  return out;
}

/** Every file in a fixture directory whose name starts with `prefix`. */
export function fixtureFiles(dir: string, prefix = ''): Buffer[] {
  return readdirSync(dir)
    .filter((f) => f.startsWith(prefix))
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile())
    .map((f) => readFileSync(f));
}

// numeric checks shared by the validators
export function finite(...values: unknown[]): void {
  for (const v of values) assert.ok(typeof v === 'number' && Number.isFinite(v), `not a finite number: ${String(v)}`);
}
