import { readFileSync, readdirSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';

/** USER_HZ, the unit of utime/stime in /proc/<pid>/stat */
const TICKS_PER_SECOND = 100;

/** utime + stime of a process (all its threads), seconds. */
export function cpuSeconds(pid: number): number {
  const text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  // fields after the comm, which ends at the last ')': state is field 3, utime 14, stime 15
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** VmHWM (peak) and VmRSS of a process, bytes. */
export function memory(pid: number): { peakRss: number; rss: number } {
  const text = readFileSync(`/proc/${pid}/status`, 'latin1');
  const kb = (key: string): number => {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text);
    if (!m) throw new Error(`/proc/${pid}/status has no ${key}`);
    return Number(m[1]) * 1024;
  };
  return { peakRss: kb('VmHWM'), rss: kb('VmRSS') };
}

function readNumber(path: string): number {
  return Number(readFileSync(path, 'latin1').trim());
}

/** Tasks (threads of all processes) on the host right now. */
export function countTasks(): number {
  let n = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      n += readdirSync(`/proc/${name}/task`).length;
    } catch {
      // exited meanwhile
    }
  }
  return n;
}

/**
 * Fails with what to do when the host cannot hold `tasks` more tasks: every thread takes a pid,
 * so kernel.pid_max bounds threads too, as does kernel.threads-max.
 */
export function checkTaskHeadroom(tasks: number, margin = 500): void {
  const pidMax = readNumber('/proc/sys/kernel/pid_max');
  const threadsMax = readNumber('/proc/sys/kernel/threads-max');
  const existing = countTasks();
  const limit = Math.min(pidMax, threadsMax);
  if (existing + tasks + margin > limit) {
    const which = pidMax <= threadsMax ? `kernel.pid_max=${pidMax}` : `kernel.threads-max=${threadsMax}`;
    throw new Error(
      `${which} leaves room for ${limit - existing} more tasks (${existing} exist), the workload needs ${tasks} + ${margin} spare; ` +
        `raise it (e.g. sysctl -w kernel.pid_max=4194304) or choose a smaller workload`,
    );
  }
}

export interface Machine {
  cpuModel: string;
  cpus: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  pidMax: number;
  virtualization: string | undefined;
}

export function describeMachine(): Machine {
  const cpuInfo = readFileSync('/proc/cpuinfo', 'latin1');
  const hypervisor = /^flags\s*:.*\bhypervisor\b/m.test(cpuInfo);
  let vendor: string | undefined;
  try {
    vendor = readFileSync('/sys/class/dmi/id/sys_vendor', 'latin1').trim() || undefined;
  } catch {
    vendor = undefined;
  }
  return {
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpuInfo)?.[1]?.trim() ?? 'unknown',
    cpus: cpus().length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: release(),
    node: process.version,
    pidMax: readNumber('/proc/sys/kernel/pid_max'),
    virtualization: hypervisor ? (vendor ?? 'VM (hypervisor flag)') : undefined,
  };
}
