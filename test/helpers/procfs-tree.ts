import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A procfs-shaped directory written by the test, for tracker arithmetic that the real /proc
 * cannot be made to show on demand (pid reuse, exact tick values, a child reaped between two
 * reads). The tracker reads it through the same -procfs root option as /host/proc.
 */
export interface FakeProc {
  pid: number;
  ppid: number;
  comm: string;
  startTime: number;
  utime?: number;
  stime?: number;
  cutime?: number;
  cstime?: number;
  minflt?: number;
  cminflt?: number;
  threads?: Array<{ tid: number; comm: string; utime: number; stime: number; startTime?: number }>;
  cmdline?: string[];
  readBytes?: number;
}

export class ProcfsTree {
  readonly root = mkdtempSync(join(tmpdir(), 'procfs-tree-'));
  hostUserTicks = 0;
  hostSystemTicks = 0;

  constructor() {
    this.writeHost();
    // the first cycle's boot-relative time: fake processes (starttime 50 and later) started after it
    this.setUptime(0.1);
  }

  /** seconds since boot, as <root>/uptime tells the tracker (a newcomer started after the first cycle's is credited whole) */
  setUptime(seconds: number): void {
    writeFileSync(join(this.root, 'uptime'), `${seconds.toFixed(2)} 0.00\n`);
  }

  private writeHost(): void {
    writeFileSync(join(this.root, 'stat'), `cpu  ${this.hostUserTicks} 0 ${this.hostSystemTicks} 1000 0 0 0 0 0 0\nbtime 1700000000\n`);
  }

  setHost(userTicks: number, systemTicks: number): void {
    this.hostUserTicks = userTicks;
    this.hostSystemTicks = systemTicks;
    this.writeHost();
  }

  set(p: FakeProc): void {
    const dir = join(this.root, String(p.pid));
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(join(dir, 'fd'), { recursive: true });
    const nthreads = p.threads?.length ?? 1;
    const stat = (pid: number, comm: string, u: number, s: number, cu: number, cs: number, start: number) =>
      `${pid} (${comm}) S ${p.ppid} ${p.pid} ${p.pid} 0 -1 4194304 ${p.minflt ?? 0} ${p.cminflt ?? 0} 0 0 ${u} ${s} ${cu} ${cs} 20 0 ${nthreads} 0 ${start} 1000000 100 18446744073709551615 0\n`;
    writeFileSync(join(dir, 'stat'), stat(p.pid, p.comm, p.utime ?? 0, p.stime ?? 0, p.cutime ?? 0, p.cstime ?? 0, p.startTime));
    writeFileSync(join(dir, 'status'), `Name:\t${p.comm}\nUid:\t0\t0\t0\t0\nVmSwap:\t0 kB\nvoluntary_ctxt_switches:\t1\nnonvoluntary_ctxt_switches:\t1\n`);
    writeFileSync(join(dir, 'io'), `rchar: 0\nwchar: 0\nsyscr: 0\nsyscw: 0\nread_bytes: ${p.readBytes ?? 0}\nwrite_bytes: 0\ncancelled_write_bytes: 0\n`);
    writeFileSync(join(dir, 'cmdline'), `${(p.cmdline ?? [p.comm]).join('\0')}\0`);
    writeFileSync(join(dir, 'limits'), 'Max open files            1024                 4096                 files\n');
    writeFileSync(join(dir, 'cgroup'), '0::/test.slice\n');
    for (const t of p.threads ?? []) {
      const tdir = join(dir, 'task', String(t.tid));
      mkdirSync(tdir, { recursive: true });
      writeFileSync(join(tdir, 'stat'), stat(t.tid, t.comm, t.utime, t.stime, 0, 0, t.startTime ?? p.startTime));
    }
  }

  remove(pid: number): void {
    rmSync(join(this.root, String(pid)), { recursive: true, force: true });
  }

  cleanup(): void {
    rmSync(this.root, { recursive: true, force: true });
  }
}
