/**
 * Real processes for the perf collector tests: the burn.c workload (compiled once per run with the
 * system C compiler), /proc readings of their CPU time, and CycleSnapshots naming them.
 */
import { type ChildProcessByStdio, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface, type Interface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { Registry } from 'prom-client';
import { PerfCollector, type PerfCollectorOptions } from '../../../src/collectors/perf.js';
import type { CycleSnapshot } from '../../../src/grouper/snapshot.js';
import { createLogger } from '../../../src/log.js';
import { psiSnapshot, type GroupSpec } from '../../helpers/psi-snapshot.js';
import { Host } from '../../../src/host/host.js';

const CC = ['/usr/bin/cc', '/usr/bin/gcc', '/usr/bin/clang'].find((p) => existsSync(p));

let binary: string | undefined;

/** why the burn workload cannot run here, or false */
export const workloadMissing: string | false = CC ? false : 'no C compiler (cc/gcc/clang) to build the test workload';

function burnBinary(): string {
  if (binary) return binary;
  const dir = mkdtempSync(path.join(tmpdir(), 'perf-burn-'));
  binary = path.join(dir, 'burn');
  execFileSync(CC as string, ['-O1', '-pthread', '-o', binary, path.join(import.meta.dirname, 'burn.c')]);
  return binary;
}

export class Burn {
  readonly child: ChildProcessByStdio<Writable, Readable, null>;
  private readonly lines: Interface;
  private readonly pending: string[] = [];
  private waiter: ((line: string) => void) | undefined;

  private constructor(child: ChildProcessByStdio<Writable, Readable, null>) {
    this.child = child;
    this.lines = createInterface({ input: child.stdout });
    this.lines.on('line', (line) => {
      const w = this.waiter;
      if (w) {
        this.waiter = undefined;
        w(line);
      } else {
        this.pending.push(line);
      }
    });
  }

  /** Starts burn with `threads` busy threads at `duty` percent and waits until they exist. */
  static async start(threads: number, duty: number): Promise<Burn> {
    // own process group, so stop() ends the children it forked too
    const b = new Burn(spawn(burnBinary(), [String(threads), String(duty)], { stdio: ['pipe', 'pipe', 'inherit'], detached: true }));
    const first = await b.line();
    if (first !== 'ready') throw new Error(`burn: expected "ready", got ${first}`);
    return b;
  }

  get pid(): number {
    return this.child.pid as number;
  }

  line(): Promise<string> {
    const next = this.pending.shift();
    if (next !== undefined) return Promise.resolve(next);
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  async command(cmd: string): Promise<string> {
    this.child.stdin.write(`${cmd}\n`);
    return this.line();
  }

  /** Kills burn and every process it forked. */
  async stop(): Promise<void> {
    const running = this.child.exitCode === null && this.child.signalCode === null;
    const exited = running ? new Promise((resolve) => this.child.once('exit', resolve)) : Promise.resolve();
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      // the group is gone already
    }
    await exited;
    this.lines.close();
    this.child.stdout.destroy();
  }
}

export interface PidStatTimes {
  pid: number;
  ppid: number;
  startTime: number;
  numThreads: number;
  /** utime + stime, seconds */
  cpu: number;
  /** cutime + cstime, seconds */
  childrenCpu: number;
}

/** /proc/<pid>/stat fields the tests compare against (USER_HZ = 100). */
export function pidStat(pid: number): PidStatTimes {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ').map(Number);
  // f[0] is field 3 (state)
  const field = (n: number) => f[n - 3] as number;
  return {
    pid,
    ppid: field(4),
    startTime: field(22),
    numThreads: field(20),
    cpu: (field(14) + field(15)) / 100,
    childrenCpu: (field(16) + field(17)) / 100,
  };
}

/**
 * CPU time of a process's live threads, in seconds, from /proc/<pid>/task/<tid>/schedstat (on-CPU ns):
 * exact where utime+stime are truncated to 10 ms ticks per field, which adds up over several processes.
 */
export function onCpuSeconds(pid: number): number {
  let ns = 0;
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    ns += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]);
  }
  return ns / 1e9;
}

/** pids of the process's children (all threads) */
export function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const text = readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim();
    if (text) out.push(...text.split(' ').map(Number));
  }
  return out;
}

export function member(pid: number, cgroupPath?: string): GroupSpec['members'][number] {
  const s = pidStat(pid);
  return { pid, startTime: s.startTime, numThreads: s.numThreads, comm: 'burn', cgroupPath };
}

export function snapshot(cycle: number, groups: readonly GroupSpec[]): CycleSnapshot {
  return psiSnapshot(cycle, groups);
}

/** value of a series in the registry, or undefined */
export async function metricValue(registry: Registry, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const metrics = await registry.getMetricsAsJSON();
  const family = metrics.find((m) => m.name === name);
  const sample = family?.values.find((v) => Object.entries(labels).every(([k, val]) => v.labels[k] === val));
  return sample?.value;
}

export function openFdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function rootMissing(): string | false {
  return process.getuid?.() === 0 ? false : 'needs root (perf_event_open on other processes, kernel time counting)';
}

export interface TestCollector {
  collector: PerfCollector;
  registry: Registry;
  logs: string[];
}

export function perfCollector(options: Partial<PerfCollectorOptions> & Pick<PerfCollectorOptions, 'events'>): TestCollector {
  const logs: string[] = [];
  const collector = new PerfCollector({
    enabled: true,
    scope: 'task',
    inherit: 'threads',
    maxFds: 4096,
    host: new Host({ procfsRoot: '/proc', containerNames: false }),
    log: createLogger({ level: 'info', write: (line) => logs.push(line) }),
    ...options,
  });
  const registry = new Registry();
  collector.register(registry);
  return { collector, registry, logs };
}

/** |actual - expected| <= rel * expected */
export function assertClose(actual: number, expected: number, rel: number, what: string): void {
  const err = Math.abs(actual - expected);
  if (!(err <= rel * Math.abs(expected))) {
    throw new Error(`${what}: ${actual.toFixed(4)} vs expected ${expected.toFixed(4)} (off by ${((err / Math.abs(expected)) * 100).toFixed(1)}%, allowed ${rel * 100}%)`);
  }
}

export const TASK_CLOCK = 'namedprocess_namegroup_perf_task_clock_seconds_total';
