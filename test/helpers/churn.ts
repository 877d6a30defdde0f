import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixtureDir } from './fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'churn-'));
let binary: string | undefined;

/** test/fixtures/workloads/churn.c, compiled once per test process, reached through a symlink named `comm`. */
export function churnBinary(comm: string): string {
  if (!binary) {
    binary = join(dir, 'churn-bin');
    execFileSync('cc', ['-O1', '-pthread', '-o', binary, join(fixtureDir, 'workloads', 'churn.c')]);
  }
  const link = join(dir, comm);
  if (!existsSync(link)) symlinkSync(binary, link);
  return link;
}

export interface Churn {
  child: ChildProcess;
  /** resolves with the number of processes started, once the run is over */
  started(): Promise<number>;
  stop(): void;
}

/** `rate` process starts a second for `seconds`; `marker` lands in argv for configs to match. */
export function startChurn(comm: string, rate: number, seconds: number, marker = ''): Churn {
  const out = join(dir, `${comm}-${process.hrtime.bigint()}.out`);
  const child = spawn(churnBinary(comm), ['churn', String(rate), String(seconds), marker].filter(Boolean), { env: { ...process.env, CHURN_OUT: out }, stdio: 'ignore' });
  return {
    child,
    started: async () => {
      while (!existsSync(out)) {
        if (child.exitCode !== null) throw new Error(`churn exited with ${child.exitCode}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      return Number(readFileSync(out, 'utf8'));
    },
    stop: () => child.kill('SIGKILL'),
  };
}

export interface OddProcesses {
  child: ChildProcess;
  /** the odd children (named ones, the threaded one, the zombie) */
  pids: number[];
  stop(): void;
}

/** Children with hostile comm names and thread names, and a zombie (see churn.c); `uid`: run as that user (needs root). */
export async function startOdd(comm: string, marker: string, opts: { uid?: number } = {}): Promise<OddProcesses> {
  const bin = churnBinary(comm);
  const [cmd, ...args] = opts.uid === undefined ? [bin, 'odd', marker] : ['setpriv', `--reuid=${opts.uid}`, `--regid=${opts.uid}`, '--clear-groups', bin, 'odd', marker];
  const child = spawn(cmd as string, args, { stdio: ['ignore', 'pipe', 'ignore'] });
  let out = '';
  child.stdout?.setEncoding('utf8');
  child.stdout?.on('data', (c: string) => (out += c));
  const pids = await new Promise<number[]>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('odd workload printed no pids')), 10_000);
    child.stdout?.on('data', () => {
      const lines = out.split('\n').filter(Boolean);
      if (lines.length >= 9) {
        clearTimeout(timer);
        resolve(lines.map(Number));
      }
    });
  });
  // children die with the parent (PR_SET_PDEATHSIG), the zombie with its reaper
  return { child, pids, stop: () => child.kill('SIGKILL') };
}
