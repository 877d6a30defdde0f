import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { packageRoot } from '../../src/package-info.js';

/** Why a namespace test cannot run here, or undefined when it can. */
export function namespaceSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root for unshare --pid --mount-proc';
  try {
    execFileSync('unshare', ['--pid', '--fork', '--mount-proc', 'true'], { stdio: 'ignore' });
  } catch {
    return 'unshare --pid --fork --mount-proc does not work here';
  }
  return undefined;
}

export function hasCommand(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** A free loopback TCP port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === 'object' && addr ? addr.port : 0));
    });
  });
}

/** Command line that runs this exporter from source (inside a namespace script). */
export function exporterCommand(args: string[]): string {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return [process.execPath, '--import', 'tsx', join(packageRoot, 'src', 'cli', 'main.ts'), ...args].map(quote).join(' ');
}

/**
 * Runs a bash script as pid 1 of a new PID namespace (with its own /proc). Stopping it kills
 * pid 1 and with it every process of the namespace.
 */
export function runInPidNamespace(script: string): { child: ChildProcess; stop(): Promise<void>; stderr(): string } {
  let err = '';
  const child = spawn('unshare', ['--pid', '--fork', '--mount-proc', '--kill-child=SIGKILL', 'bash', '-c', script], {
    cwd: packageRoot,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  return {
    child,
    // unshare --fork blocks SIGTERM while it waits; SIGKILL ends it and --kill-child takes pid 1
    // (and so the whole namespace) with it
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
    stderr: () => err,
  };
}

/** Scrapes a /metrics endpoint, retrying until it answers or the deadline passes. */
export async function scrape(url: string, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) return await res.text();
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`no answer from ${url}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** values of the samples `name{...}` whose labels include all of `want` */
export function samples(text: string, name: string, want: Record<string, string> = {}): number[] {
  const out: number[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labels: Record<string, string> = {};
    for (const lm of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1] ?? ''] = lm[2] ?? '';
    if (Object.entries(want).every(([k, v]) => labels[k] === v)) out.push(Number(m[3]));
  }
  return out;
}

export const sample = (text: string, name: string, want: Record<string, string> = {}): number | undefined => samples(text, name, want)[0];
export const sampleSum = (text: string, name: string, want: Record<string, string> = {}): number => samples(text, name, want).reduce((a, b) => a + b, 0);
