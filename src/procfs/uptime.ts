import { ParseError } from '../errors.js';
import { GONE, type FileReader } from './file-reader.js';

/*
 * /proc/uptime (proc(5)): seconds since boot (CLOCK_BOOTTIME, the clock of a task's starttime in
 * <pid>/stat) and the idle seconds summed over CPUs, both with two decimals:
 *
 *   350735.47 234388.90
 */

/** Seconds since boot. */
export function parseUptime(buf: Uint8Array, len: number): number {
  let end = 0;
  while (end < len && buf[end] !== 0x20 && buf[end] !== 0x0a) end++;
  const text = Buffer.from(buf.buffer, buf.byteOffset, end).toString('latin1');
  const seconds = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (Number.isNaN(seconds)) throw new ParseError('/proc/uptime', `not a number of seconds: ${JSON.stringify(text.slice(0, 40))}`);
  return seconds;
}

/** Seconds since boot from <root>/uptime, or undefined when the file is missing (a copied tree may lack it). */
export function readUptime(reader: FileReader): number | undefined {
  const n = reader.readSingle(`${reader.root}/uptime`);
  return n === GONE ? undefined : parseUptime(reader.bytes, n);
}
