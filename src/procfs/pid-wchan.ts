import { GONE, type FileReader } from './file-reader.js';

/*
 * /proc/<pid>/wchan and /proc/<pid>/task/<tid>/wchan (proc(5)): the kernel function the task
 * sleeps in, as one symbol name with no newline, or "0" when it is running, not blocked, or the
 * reader lacks ptrace read access:
 *
 *   do_wait
 *   futex_do_wait
 *   0
 *
 * "No wchan" is returned as "" (process-exporter's prometheus/procfs does the same), so a caller
 * counts only tasks that wait somewhere.
 */

/** KSYM_NAME_LEN: no kernel symbol is longer; anything longer is not a symbol and is cut. */
const MAX_SYMBOL = 512;

export function parsePidWchan(buf: Uint8Array, len: number): string {
  let end = Math.min(len, MAX_SYMBOL);
  // not expected from the kernel, but a trailing newline must not become part of a label value
  while (end > 0 && (buf[end - 1] === 0x0a || buf[end - 1] === 0x20)) end--;
  if (end === 0 || (end === 1 && buf[0] === 0x30)) return '';
  return Buffer.from(buf.buffer, buf.byteOffset, end).toString('latin1');
}

/** The task's wchan ("" when none), or undefined when it is gone. */
export function readPidWchan(reader: FileReader, path: string): string | undefined {
  const n = reader.readSingle(path);
  return n === GONE ? undefined : parsePidWchan(reader.bytes, n);
}
