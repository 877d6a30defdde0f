import { GONE, type FileReader } from './file-reader.js';

/*
 * /proc/<pid>/limits:
 *
 *   Limit                     Soft Limit           Hard Limit           Units
 *   Max cpu time              unlimited            unlimited            seconds
 *   Max open files            1024                 1048576              files
 *
 * Only "Max open files" is used (for worst_fd_ratio); "unlimited" reads as Infinity.
 */
export interface PidLimits {
  openFilesSoft: number;
}

const OPEN_FILES = /^Max open files\s+(\S+)/m;

export function parsePidLimits(text: string): PidLimits {
  const m = OPEN_FILES.exec(text);
  const soft = m?.[1];
  if (soft === undefined || soft === 'unlimited') return { openFilesSoft: Infinity };
  const n = Number(soft);
  return { openFilesSoft: Number.isFinite(n) && n > 0 ? n : Infinity };
}

export function readPidLimits(reader: FileReader, path: string): PidLimits | undefined {
  const n = reader.readAll(path);
  return n === GONE ? undefined : parsePidLimits(reader.bytes.toString('latin1', 0, n));
}
