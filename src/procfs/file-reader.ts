/**
 * What the parsers in procfs/ and cgroup/ need from a file reader. The implementation
 * (host/proc-reader.ts) belongs to the host layer, the only code that opens host files during a
 * cycle; parsers take this interface so they stay pure and below it.
 */

/** A read of a process that exited (or a file that vanished) returns GONE instead of throwing. */
export const GONE = -1;

export interface FileReader {
  /** the procfs mount this reader reads, e.g. /proc or /host/proc; no trailing slash */
  readonly root: string;
  /** the bytes of the last read, valid until the next one */
  readonly bytes: Buffer;
  /** reads a single-record file (stat, status, io, ...) into `bytes`; its length, or GONE */
  readSingle(path: string): number;
  /** reads any file to EOF into `bytes`; its length, or GONE */
  readAll(path: string): number;
  /** decoded text of a whole file, or undefined when gone; cold paths only */
  readText(path: string): string | undefined;
  /** numeric directory entries (pids, tids); [] when gone */
  listIds(dir: string): number[];
}
