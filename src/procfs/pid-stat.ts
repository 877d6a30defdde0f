import { ParseError } from '../errors.js';
import { ByteScanner } from './byte-scanner.js';
import { GONE, type ProcReader } from './proc-reader.js';

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

export function parsePidStat(buf: Uint8Array, len: number, file = 'stat'): PidStat {
  let open = -1;
  for (let i = 0; i < len; i++) {
    if (buf[i] === OPEN_PAREN) {
      open = i;
      break;
    }
  }
  let close = -1;
  for (let i = len - 1; i > open; i--) {
    if (buf[i] === CLOSE_PAREN) {
      close = i;
      break;
    }
  }
  if (open < 0 || close < 0) throw new ParseError(file, 'no "(comm)" field');
  const head = new ByteScanner(buf, open);
  const pid = head.int();
  const comm = Buffer.from(buf.buffer, buf.byteOffset + open + 1, close - open - 1).toString('utf8');
  const s = new ByteScanner(buf, len, close + 1);
  s.skipSpaces();
  const state = String.fromCharCode(buf[s.pos] ?? 0x3f);
  s.pos++;
  const ppid = s.int();
  s.skipField(); // pgrp
  s.skipField(); // session
  s.skipField(); // tty_nr
  s.skipField(); // tpgid
  s.skipField(); // flags
  const minflt = s.int();
  const cminflt = s.int();
  const majflt = s.int();
  const cmajflt = s.int();
  const utime = s.int();
  const stime = s.int();
  const cutime = s.int();
  const cstime = s.int();
  s.skipField(); // priority
  s.skipField(); // nice
  const numThreads = s.int();
  s.skipField(); // itrealvalue
  const startTime = s.int();
  const vsize = s.int();
  const rss = s.int();
  // NaN anywhere (a missing or non-numeric field) makes the sum NaN: one check for all
  const sum = pid + ppid + minflt + cminflt + majflt + cmajflt + utime + stime + cutime + cstime + numThreads + startTime + vsize + rss;
  if (Number.isNaN(sum)) throw new ParseError(file, 'fewer fields than expected, or a field that is not a number');
  return { pid, comm, state, ppid, minflt, cminflt, majflt, cmajflt, utime, stime, cutime, cstime, numThreads, startTime, vsize, rss };
}

/** Reads and parses a stat file; undefined when the task is gone. */
export function readPidStat(reader: ProcReader, path: string): PidStat | undefined {
  const n = reader.readSingle(path);
  return n === GONE ? undefined : parsePidStat(reader.bytes, n, path);
}
