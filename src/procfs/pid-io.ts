import { ByteScanner, ascii } from './byte-scanner.js';
import { GONE, type FileReader } from './file-reader.js';

/*
 * /proc/<pid>/io (needs ptrace read access; root or same user):
 *
 *   rchar: 323934931
 *   wchar: 323929600
 *   syscr: 632687
 *   syscw: 632675
 *   read_bytes: 0
 *   write_bytes: 323932160
 *   cancelled_write_bytes: 0
 *
 * read_bytes/write_bytes (storage I/O) are what process-exporter exports; unknown lines skipped.
 */
export interface PidIo {
  rchar: number;
  wchar: number;
  readBytes: number;
  writeBytes: number;
}

const RCHAR = ascii('rchar:');
const WCHAR = ascii('wchar:');
const READ_BYTES = ascii('read_bytes:');
const WRITE_BYTES = ascii('write_bytes:');

export function parsePidIo(buf: Uint8Array, len: number): PidIo {
  const out: PidIo = { rchar: 0, wchar: 0, readBytes: 0, writeBytes: 0 };
  const s = new ByteScanner(buf, len);
  while (!s.done) {
    if (s.take(RCHAR)) out.rchar = s.int() || 0;
    else if (s.take(WCHAR)) out.wchar = s.int() || 0;
    else if (s.take(READ_BYTES)) out.readBytes = s.int() || 0;
    else if (s.take(WRITE_BYTES)) out.writeBytes = s.int() || 0;
    s.nextLine();
  }
  return out;
}

export function readPidIo(reader: FileReader, path: string): PidIo | undefined {
  const n = reader.readSingle(path);
  return n === GONE ? undefined : parsePidIo(reader.bytes, n);
}
