import { ParseError } from '../errors.js';
import { ByteScanner, ascii } from './byte-scanner.js';
import { GONE, type FileReader } from './file-reader.js';

/*
 * /proc/stat (proc(5)); the lines read here:
 *
 *   cpu  10132153 290696 3084719 46828483 16683 0 25195 0 175628 0
 *        user     nice   system  idle     iowait irq softirq steal guest guest_nice   (USER_HZ ticks)
 *   btime 1769000000
 *
 * guest time is already included in user (and guest_nice in nice).
 */
export interface ProcStat {
  user: number;
  nice: number;
  system: number;
  idle: number;
  iowait: number;
  irq: number;
  softirq: number;
  steal: number;
  /** boot time, unix seconds */
  bootTime: number;
}

const CPU_TOTAL = ascii('cpu ');
const BTIME = ascii('btime ');

export function parseProcStat(buf: Uint8Array, len: number): ProcStat {
  const out: ProcStat = { user: 0, nice: 0, system: 0, idle: 0, iowait: 0, irq: 0, softirq: 0, steal: 0, bootTime: NaN };
  let sawCpu = false;
  const s = new ByteScanner(buf, len);
  while (!s.done) {
    if (s.take(CPU_TOTAL)) {
      sawCpu = true;
      out.user = s.int();
      out.nice = s.int();
      out.system = s.int();
      out.idle = s.int();
      out.iowait = s.int() || 0;
      out.irq = s.int() || 0;
      out.softirq = s.int() || 0;
      out.steal = s.int() || 0;
    } else if (s.take(BTIME)) {
      out.bootTime = s.int();
    }
    s.nextLine();
  }
  if (!sawCpu || Number.isNaN(out.user + out.nice + out.system + out.idle)) throw new ParseError('/proc/stat', 'no "cpu" line with user, nice, system and idle');
  if (Number.isNaN(out.bootTime)) throw new ParseError('/proc/stat', 'no "btime" line');
  return out;
}

export function readProcStat(reader: FileReader): ProcStat {
  const path = `${reader.root}/stat`;
  const n = reader.readAll(path);
  if (n === GONE) throw new ParseError(path, 'file missing');
  return parseProcStat(reader.bytes, n);
}
