import { ByteScanner, ascii } from './byte-scanner.js';
import { GONE, type FileReader } from './file-reader.js';

/*
 * /proc/<pid>/status, "Key:\tvalue" lines (proc(5)); the ones read here:
 *
 *   Name:   bash
 *   Uid:    1000    1000    1000    1000          (real, effective, saved, fs)
 *   VmSwap:        0 kB                           (absent for kernel threads)
 *   voluntary_ctxt_switches:        150
 *   nonvoluntary_ctxt_switches:     545
 *
 * Other lines are skipped.
 */
export interface PidStatus {
  /** real uid; -1 when the line is missing */
  uid: number;
  /** effective uid (what process-exporter's .Username names); -1 when missing */
  euid: number;
  /** bytes; 0 when absent */
  vmSwapBytes: number;
  voluntaryCtxSwitches: number;
  nonvoluntaryCtxSwitches: number;
}

const UID = ascii('Uid:');
const VM_SWAP = ascii('VmSwap:');
const VOLUNTARY = ascii('voluntary_ctxt_switches:');
const NONVOLUNTARY = ascii('nonvoluntary_ctxt_switches:');
const NEWLINE = 0x0a;

/**
 * Position just after `key` at the start of its first line within [0, len), or -1. The file is
 * ~1.5 KB of which four lines are wanted, so a native search for each key (Buffer's indexOf)
 * replaces a byte-by-byte walk over every line (1.8 -> 0.7 us per file).
 */
function afterKey(buf: Buffer, len: number, key: Uint8Array): number {
  const n = key.length;
  for (let at = 0; at <= len - n; ) {
    const i = buf.indexOf(key, at);
    if (i < 0 || i > len - n) break;
    if (i === 0 || buf[i - 1] === NEWLINE) return i + n;
    at = i + 1;
  }
  return -1;
}

export function parsePidStatus(bytes: Uint8Array, len: number): PidStatus {
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: PidStatus = { uid: -1, euid: -1, vmSwapBytes: 0, voluntaryCtxSwitches: 0, nonvoluntaryCtxSwitches: 0 };
  const s = new ByteScanner(buf, len);
  if ((s.pos = afterKey(buf, len, UID)) >= 0) {
    out.uid = s.int();
    out.euid = s.int();
  }
  if ((s.pos = afterKey(buf, len, VM_SWAP)) >= 0) out.vmSwapBytes = (s.int() || 0) * 1024;
  if ((s.pos = afterKey(buf, len, VOLUNTARY)) >= 0) out.voluntaryCtxSwitches = s.int() || 0;
  if ((s.pos = afterKey(buf, len, NONVOLUNTARY)) >= 0) out.nonvoluntaryCtxSwitches = s.int() || 0;
  if (Number.isNaN(out.uid)) out.uid = -1;
  if (Number.isNaN(out.euid)) out.euid = -1;
  return out;
}

export function readPidStatus(reader: FileReader, path: string): PidStatus | undefined {
  const n = reader.readSingle(path);
  return n === GONE ? undefined : parsePidStatus(reader.bytes, n);
}
