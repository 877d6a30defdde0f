/**
 * Pressure stall information (PSI) files: /proc/pressure/{cpu,memory,io,irq} and the cgroup v2
 * <cgroup>/{cpu,memory,io}.pressure files.
 *
 * Format (Documentation/accounting/psi.rst):
 *
 *   some avg10=0.00 avg60=0.00 avg300=0.00 total=0
 *   full avg10=0.00 avg60=0.00 avg300=0.00 total=0
 *
 * "some": share of time at least one task was stalled on the resource; "full": share of time all
 * non-idle tasks were stalled at once. avgN are percentages (0..100) over the last N seconds;
 * total is the cumulative stall time in microseconds. cpu has a `full` line since Linux 5.13
 * (always 0 system-wide, meaningful per cgroup); /proc/pressure/irq (6.1+, CONFIG_IRQ_TIME_ACCOUNTING)
 * has only `full`. Without psi=1 the files are absent (or, on older kernels, reads fail with
 * EOPNOTSUPP); writing 0 to a cgroup's cgroup.pressure hides its pressure files.
 */
import { ParseError } from '../errors.js';
import { GONE, type FileReader } from '../procfs/file-reader.js';

/** One `some` or `full` line, in the kernel's units. */
export interface PressureLine {
  avg10Percent: number;
  avg60Percent: number;
  avg300Percent: number;
  totalMicroseconds: number;
}

/** A pressure file; a line the kernel does not write is undefined. */
export interface Pressure {
  some: PressureLine | undefined;
  full: PressureLine | undefined;
}

export type PressureKind = keyof Pressure;

const FIELDS = [
  ['avg10', 'avg10Percent'],
  ['avg60', 'avg60Percent'],
  ['avg300', 'avg300Percent'],
  ['total', 'totalMicroseconds'],
] as const;

/** Parse the text of a pressure file; `file` names it in errors. Unknown lines and keys are ignored. */
export function parsePressure(text: string, file = 'pressure'): Pressure {
  const result: Pressure = { some: undefined, full: undefined };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const [kind, ...pairs] = (lines[i] ?? '').trim().split(/\s+/);
    if (kind !== 'some' && kind !== 'full') continue;
    const values = new Map<string, string>();
    for (const pair of pairs) {
      const eq = pair.indexOf('=');
      if (eq > 0) values.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
    const line: Partial<Record<(typeof FIELDS)[number][1], number>> = {};
    for (const [key, name] of FIELDS) {
      const raw = values.get(key);
      const value = raw !== undefined && /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : Number.NaN;
      // a number too long for a double (Infinity) is as broken as no number
      if (!Number.isFinite(value)) {
        throw new ParseError(file, `line ${i + 1} (${kind}): field ${key}: expected a non-negative number, got ${raw === undefined ? 'nothing' : JSON.stringify(raw)}`);
      }
      line[name] = value;
    }
    result[kind] = line as PressureLine;
  }
  return result;
}

/**
 * Read and parse one pressure file; undefined when it does not exist (the cgroup was removed, or its
 * PSI is switched off). Other failures throw ProcReadError with the errno (EOPNOTSUPP: PSI disabled
 * in the kernel; ENODEV: the cgroup is being removed).
 */
export function readPressure(reader: FileReader, file: string): Pressure | undefined {
  const n = reader.readSingle(file);
  return n === GONE ? undefined : parsePressure(reader.bytes.toString('utf8', 0, n), file);
}
