import { ParseError } from '../errors.js';
import { GONE, type FileReader } from './file-reader.js';

/*
 * /proc/<pid>/stat and /proc/<pid>/task/<tid>/stat, one line (proc(5)):
 *
 *   1234 (comm with spaces) S 1 1234 1234 0 -1 4194560 1191 22 0 0 13 7 0 0 20 0 1 0 2203 5586944 876 ...
 *   (1) pid (2) comm (3) state (4) ppid (5) pgrp (6) session (7) tty_nr (8) tpgid (9) flags
 *   (10) minflt (11) cminflt (12) majflt (13) cmajflt (14) utime (15) stime (16) cutime (17) cstime
 *   (18) priority (19) nice (20) num_threads (21) itrealvalue (22) starttime (23) vsize (24) rss ...
 *
 * comm may hold any byte including spaces and ')', so it ends at the LAST ')'. Times are clock
 * ticks (USER_HZ), starttime ticks since boot, vsize bytes, rss pages.
 */

/** USER_HZ: the unit of /proc tick counts, fixed at 100 for user space on every Linux arch. */
export const TICKS_PER_SECOND = 100;

export interface PidStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  minflt: number;
  cminflt: number;
  majflt: number;
  cmajflt: number;
  utime: number;
  stime: number;
  cutime: number;
  cstime: number;
  numThreads: number;
  startTime: number;
  vsize: number;
  rss: number;
}

const OPEN_PAREN = 0x28;
const CLOSE_PAREN = 0x29;
const MAX_DIGITS = 20;

/** A PidStat to parse into again and again (see parsePidStat's `into`). */
export function emptyPidStat(): PidStat {
  return { pid: 0, comm: '', state: '', ppid: 0, minflt: 0, cminflt: 0, majflt: 0, cmajflt: 0, utime: 0, stime: 0, cutime: 0, cstime: 0, numThreads: 0, startTime: 0, vsize: 0, rss: 0 };
}

/*
 * This parser runs once per task per cycle, so it avoids allocations: one cursor shared by the
 * helpers below (a parse runs to completion before the next starts) instead of scanner objects,
 * and the comm string of `into` kept when the bytes spell it. Same rules as ByteScanner.int():
 * blanks are spaces and tabs, an optional '-', NaN for no digits or more than 20.
 */
let at = 0;

function isBlank(c: number | undefined): boolean {
  return c === 0x20 || c === 0x09;
}

function int(buf: Uint8Array, end: number): number {
  while (at < end && isBlank(buf[at])) at++;
  let neg = false;
  if (at < end && buf[at] === 0x2d) {
    neg = true;
    at++;
  }
  const start = at;
  let v = 0;
  while (at < end) {
    const d = (buf[at] as number) - 48;
    if (d < 0 || d > 9) break;
    v = v * 10 + d;
    at++;
  }
  if (at === start || at - start > MAX_DIGITS) return NaN;
  return neg ? -v : v;
}

function skipField(buf: Uint8Array, end: number): void {
  while (at < end && isBlank(buf[at])) at++;
  while (at < end) {
    const c = buf[at];
    if (c === 0x20 || c === 0x0a || c === 0x09) break;
    at++;
  }
}

/** The comm bytes as a string, reusing `known` when they are the same ASCII text. */
export function commOf(buf: Uint8Array, start: number, end: number, known: string): string {
  if (known.length === end - start) {
    let same = true;
    for (let i = start; i < end; i++) {
      const c = buf[i] as number;
      if (c >= 0x80 || c !== known.charCodeAt(i - start)) {
        same = false;
        break;
      }
    }
    if (same) return known;
  }
  // a Buffer decodes a range in place; wrapping a plain Uint8Array allocates a view first
  return buf instanceof Buffer ? buf.toString('utf8', start, end) : Buffer.from(buf.buffer, buf.byteOffset + start, end - start).toString('utf8');
}

/**
 * Parses a stat file. With `into`, fills and returns that object instead of a new one (its comm
 * string is kept when unchanged); on a ParseError its fields are unspecified.
 */
export function parsePidStat(buf: Uint8Array, len: number, file = 'stat', into?: PidStat): PidStat {
  // typed-array searches run natively: the line is ~300 bytes, comm ends near its start
  const open = len > 0 ? buf.indexOf(OPEN_PAREN) : -1;
  const close = open >= 0 && open < len ? buf.lastIndexOf(CLOSE_PAREN, len - 1) : -1;
  if (open < 0 || open >= len || close <= open) throw new ParseError(file, 'no "(comm)" field');
  const out = into ?? emptyPidStat();
  at = 0;
  out.pid = int(buf, open);
  out.comm = commOf(buf, open + 1, close, out.comm);
  at = close + 1;
  while (at < len && isBlank(buf[at])) at++;
  out.state = String.fromCharCode(at < len ? (buf[at] as number) : 0x3f);
  at++;
  out.ppid = int(buf, len);
  skipField(buf, len); // pgrp
  skipField(buf, len); // session
  skipField(buf, len); // tty_nr
  skipField(buf, len); // tpgid
  skipField(buf, len); // flags
  out.minflt = int(buf, len);
  out.cminflt = int(buf, len);
  out.majflt = int(buf, len);
  out.cmajflt = int(buf, len);
  out.utime = int(buf, len);
  out.stime = int(buf, len);
  out.cutime = int(buf, len);
  out.cstime = int(buf, len);
  skipField(buf, len); // priority
  skipField(buf, len); // nice
  out.numThreads = int(buf, len);
  skipField(buf, len); // itrealvalue
  out.startTime = int(buf, len);
  out.vsize = int(buf, len);
  out.rss = int(buf, len);
  // NaN anywhere (a missing or non-numeric field) makes the sum NaN: one check for all
  const o = out;
  const sum = o.pid + o.ppid + o.minflt + o.cminflt + o.majflt + o.cmajflt + o.utime + o.stime + o.cutime + o.cstime + o.numThreads + o.startTime + o.vsize + o.rss;
  if (Number.isNaN(sum)) throw new ParseError(file, 'fewer fields than expected, or a field that is not a number');
  return out;
}

/** Reads and parses a stat file (into `into` when given); undefined when the task is gone. */
export function readPidStat(reader: FileReader, path: string, into?: PidStat): PidStat | undefined {
  const n = reader.readSingle(path);
  return n === GONE ? undefined : parsePidStat(reader.bytes, n, path, into);
}
