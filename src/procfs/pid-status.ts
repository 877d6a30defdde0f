import { ByteScanner, ascii } from './byte-scanner.js';
import { GONE, type ProcReader } from './proc-reader.js';

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

export function parsePidStatus(buf: Uint8Array, len: number): PidStatus {
  const out: PidStatus = { uid: -1, euid: -1, vmSwapBytes: 0, voluntaryCtxSwitches: 0, nonvoluntaryCtxSwitches: 0 };
  const s = new ByteScanner(buf, len);
  while (!s.done) {
    // dispatch on the first byte: most lines are skipped after one comparison
    switch (buf[s.pos]) {
      case 0x55: // U
        if (s.take(UID)) {
          out.uid = s.int();
          out.euid = s.int();
        }
        break;
      case 0x56: // V
        if (s.take(VM_SWAP)) out.vmSwapBytes = (s.int() || 0) * 1024;
        break;
      case 0x76: // v
        if (s.take(VOLUNTARY)) out.voluntaryCtxSwitches = s.int() || 0;
        break;
      case 0x6e: // n
        if (s.take(NONVOLUNTARY)) out.nonvoluntaryCtxSwitches = s.int() || 0;
        break;
      default:
        break;
    }
    s.nextLine();
  }
  if (Number.isNaN(out.uid)) out.uid = -1;
  if (Number.isNaN(out.euid)) out.euid = -1;
  return out;
}

export function readPidStatus(reader: ProcReader, path: string): PidStatus | undefined {
  const n = reader.readSingle(path);
  return n === GONE ? undefined : parsePidStatus(reader.bytes, n);
}
