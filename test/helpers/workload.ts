import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fixtureDir } from './fixtures.js';

let binary: string | undefined;
const linkDir = mkdtempSync(join(tmpdir(), 'workload-'));

/** Compiles test/fixtures/workloads/workload.c once per test process (cc -O1 -pthread). */
export function workloadBinary(): string {
  if (!binary) {
    const out = join(linkDir, 'workload-bin');
    execFileSync('cc', ['-O1', '-pthread', '-o', out, join(fixtureDir, 'workloads', 'workload.c')]);
    binary = out;
  }
  return binary;
}

/** Path of a symlink named `name` to the workload, so its comm is `name` (up to 15 chars). */
export function namedWorkload(name: string): string {
  const link = join(linkDir, 'bin', name);
  if (!existsSync(link)) {
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(workloadBinary(), link);
  }
  return link;
}

export interface Workload {
  child: ChildProcess;
  /** $WL_OUT: where the workload writes its result (and markers named after it) */
  outFile: string;
  /** resolves with the CPU seconds the workload reported (self + reaped children) */
  result(): Promise<number>;
  stop(): void;
}

export function startWorkload(name: string, args: string[]): Workload {
  const out = join(linkDir, `${name}-${Date.now()}-${Math.random().toString(36).slice(2)}.out`);
  const child = spawn(namedWorkload(name), args, { env: { ...process.env, WL_OUT: out }, stdio: 'ignore' });
  return {
    child,
    outFile: out,
    result: async () => {
      while (!existsSync(out)) {
        if (child.exitCode !== null) throw new Error(`workload ${name} exited with ${child.exitCode}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return Number(readFileSync(out, 'utf8'));
    },
    stop: () => {
      child.kill('SIGKILL');
    },
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
