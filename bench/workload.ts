import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** bench/ in the source tree (this file runs from dist/bench/) */
export const BENCH_SRC = fileURLToPath(new URL('../../bench/', import.meta.url));

/** ~20 groups of held processes, named by the symlink they are exec'd through */
export const HOLD_NAMES = Array.from({ length: 20 }, (_, i) => `bw-${String(i).padStart(2, '0')}`);
export const CHURN_NAMES = ['bc-0', 'bc-1', 'bc-2', 'bc-3', 'bc-4'];

export interface NativeTools {
  dir: string;
  workload: string;
  floor: string;
}

/** Compiles bench/workload.c and bench/floor.c with cc into `dir`, and the name symlinks. */
export function buildNative(dir: string): NativeTools {
  const workload = join(dir, 'bench-workload');
  const floor = join(dir, 'bench-floor');
  execFileSync('cc', ['-O2', '-Wall', '-pthread', '-o', workload, join(BENCH_SRC, 'workload.c')], { stdio: 'inherit' });
  execFileSync('cc', ['-O2', '-Wall', '-o', floor, join(BENCH_SRC, 'floor.c')], { stdio: 'inherit' });
  for (const name of [...HOLD_NAMES, ...CHURN_NAMES]) symlinkSync(workload, join(dir, name));
  return { dir, workload, floor };
}

export interface WorkloadSpec {
  /** e.g. "500x20" or "500x1+churn" */
  label: string;
  processes: number;
  threads: number;
  churn: boolean;
}

export function parseWorkload(label: string): WorkloadSpec {
  const m = /^(\d+)x(\d+)(\+churn)?$/.exec(label);
  if (!m) throw new Error(`invalid workload "${label}" (want NxT or NxT+churn, e.g. 500x20)`);
  return { label, processes: Number(m[1]), threads: Number(m[2]), churn: m[3] !== undefined };
}

export interface ChurnOptions {
  perSecond: number;
  minLifeMs: number;
  maxLifeMs: number;
}

export const DEFAULT_CHURN: ChurnOptions = { perSecond: 100, minLifeMs: 20, maxLifeMs: 2000 };

/** Launchers started so far, stopped on exit, Ctrl-C and errors. */
const launchers = new Set<ChildProcess>();

function startLauncher(tools: NativeTools, args: string[]): Promise<ChildProcess> {
  // detached: the launcher leads its own process group, which a last-resort kill takes down whole
  const child = spawn(tools.workload, args, { detached: true, stdio: ['ignore', 'pipe', 'inherit'] });
  launchers.add(child);
  child.once('exit', () => launchers.delete(child));
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error(`workload ${args.join(' ')} not ready after 180 s`)), 180_000);
    lines.once('line', (line) => {
      clearTimeout(timer);
      if (line === 'ready') resolve(child);
      else reject(new Error(`workload ${args.join(' ')} said "${line}"`));
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`workload ${args.join(' ')} exited with ${code}`));
    });
  });
}

export class Workload {
  private constructor(private readonly children: ChildProcess[]) {}

  static async start(tools: NativeTools, spec: WorkloadSpec, churn: ChurnOptions = DEFAULT_CHURN): Promise<Workload> {
    const children: ChildProcess[] = [];
    try {
      if (spec.processes > 0) {
        children.push(await startLauncher(tools, ['hold', String(spec.processes), String(spec.threads), tools.dir, ...HOLD_NAMES]));
      }
      if (spec.churn) {
        const args = ['churn', String(churn.perSecond), String(churn.minLifeMs), String(churn.maxLifeMs), tools.dir, ...CHURN_NAMES];
        children.push(await startLauncher(tools, args));
      }
    } catch (err) {
      await new Workload(children).stop();
      throw err;
    }
    return new Workload(children);
  }

  /** SIGTERM: each launcher terminates and reaps its group; SIGKILL to the group after 10 s. */
  async stop(): Promise<void> {
    await Promise.all(this.children.map((c) => stopLauncher(c)));
  }
}

async function stopLauncher(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => killGroup(child), 10_000);
  await exited;
  clearTimeout(timer);
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

/** Stops every workload still running (Ctrl-C, errors). */
export async function stopAllWorkloads(): Promise<void> {
  await Promise.all([...launchers].map((c) => stopLauncher(c)));
}

/** Synchronous last resort for exit paths: kill every launcher's whole process group. */
export function killAllWorkloads(): void {
  for (const child of launchers) killGroup(child);
}
