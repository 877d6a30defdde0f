import { GONE, type FileReader } from './file-reader.js';

/*
 * /proc/<pid>/cmdline: argv joined by NUL bytes, usually NUL-terminated:
 *
 *   /usr/bin/python3\0-m\0http.server\0
 *
 * Empty for kernel threads and zombies. A process that rewrote its argv area (setproctitle)
 * may use spaces instead of NULs; it is returned as written.
 */
export function parsePidCmdline(buf: Uint8Array, len: number): string[] {
  let end = len;
  while (end > 0 && buf[end - 1] === 0) end--;
  if (end === 0) return [];
  return Buffer.from(buf.buffer, buf.byteOffset, end).toString('utf8').split('\0');
}

export function readPidCmdline(reader: FileReader, path: string): string[] | undefined {
  const n = reader.readAll(path);
  return n === GONE ? undefined : parsePidCmdline(reader.bytes, n);
}
