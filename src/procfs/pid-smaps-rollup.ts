import { ByteScanner, ascii } from './byte-scanner.js';
import { GONE, type FileReader } from './file-reader.js';

/*
 * /proc/<pid>/smaps_rollup (Linux 4.14+), read only with -gather-smaps because the kernel walks
 * every mapping to produce it:
 *
 *   55d4d1a3c000-7ffd8a5f2000 ---p 00000000 00:00 0                          [rollup]
 *   Rss:                4096 kB
 *   Pss:                1024 kB
 *   ...
 *   SwapPss:               0 kB
 */
export interface PidSmapsRollup {
  pssBytes: number;
  swapPssBytes: number;
}

const PSS = ascii('Pss:');
const SWAP_PSS = ascii('SwapPss:');

export function parsePidSmapsRollup(buf: Uint8Array, len: number): PidSmapsRollup {
  const out: PidSmapsRollup = { pssBytes: 0, swapPssBytes: 0 };
  const s = new ByteScanner(buf, len);
  while (!s.done) {
    if (s.take(PSS)) out.pssBytes = (s.int() || 0) * 1024;
    else if (s.take(SWAP_PSS)) out.swapPssBytes = (s.int() || 0) * 1024;
    s.nextLine();
  }
  return out;
}

export function readPidSmapsRollup(reader: FileReader, path: string): PidSmapsRollup | undefined {
  const n = reader.readSingle(path);
  return n === GONE ? undefined : parsePidSmapsRollup(reader.bytes, n);
}
