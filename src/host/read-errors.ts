import { ParseError, ProcReadError } from '../errors.js';
import { NetlinkError } from '../taskstats/netlink-socket.js';

/** open(2) errnos that say the exporter (EMFILE) or the system (ENFILE) has no descriptor left */
const EXPORTER_OUT_OF_FDS = new Set(['EMFILE', 'ENFILE']);

/**
 * Files of processes that could not be read in one cycle, as data: counts by file kind ("stat",
 * "io", "task_status", ...) and errno ("EACCES", or "parse" for a malformed file). A process that
 * exited while read is not an error and never lands here.
 */
export class ReadErrors {
  /** processes that could not be read at all (their stat) */
  procRead = 0;
  /** tracked processes read only in part (io denied, a thread list unreadable, ...) */
  partial = 0;
  /** file -> errno -> count */
  readonly byFile = new Map<string, Map<string, number>>();

  /**
   * Counts `err` when it is a read or parse error and returns true; anything else (a bug) is
   * left for the caller to rethrow.
   */
  count(kind: 'procRead' | 'partial', file: string, err: unknown): boolean {
    let errno: string;
    if (err instanceof ProcReadError) {
      // the exporter, not the process, is out of descriptors: the cycle fails (shown in that
      // scrape and in /health) instead of serving every process it could not open as gone
      if (EXPORTER_OUT_OF_FDS.has(err.errno)) return false;
      errno = err.errno;
    }
    else if (err instanceof ParseError) errno = 'parse';
    else if (err instanceof NetlinkError) errno = err.errno;
    else return false;
    if (kind === 'procRead') this.procRead++;
    else this.partial++;
    let byErrno = this.byFile.get(file);
    if (!byErrno) {
      byErrno = new Map();
      this.byFile.set(file, byErrno);
    }
    byErrno.set(errno, (byErrno.get(errno) ?? 0) + 1);
    return true;
  }
}

/** Adds `from` into the running totals `into` (file -> errno -> count). */
export function addReadErrors(into: Map<string, Map<string, number>>, from: ReadonlyMap<string, ReadonlyMap<string, number>>): void {
  for (const [file, byErrno] of from) {
    let target = into.get(file);
    if (!target) {
      target = new Map();
      into.set(file, target);
    }
    for (const [errno, n] of byErrno) target.set(errno, (target.get(errno) ?? 0) + n);
  }
}
