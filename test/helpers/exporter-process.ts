import { type ChildProcess, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface ExporterProcess {
  child: ChildProcess;
  /** pid of the exporter itself (not of a setpriv or prlimit wrapper: both exec it) */
  pid: number;
  port: number;
  url: string;
  /** everything it logged so far */
  log(): string;
  scrape(path?: string, init?: RequestInit): Promise<{ status: number; text: string }>;
  /** SIGTERM, then the exit code */
  stop(): Promise<number | null>;
}

/**
 * `serve` as a real child process on a free port; resolves once it listens. `asNobody`: as uid
 * 65534 without capabilities, or with just `capabilities` (setpriv names, e.g. 'sys_ptrace').
 * `maxOpenFiles`: RLIMIT_NOFILE (soft and hard) set by prlimit, which execs the exporter.
 * `nodeArgs` go to node before the script, `env` on top of this process's environment.
 */
export async function startExporter(
  args: readonly string[],
  opts: { asNobody?: boolean; capabilities?: readonly string[]; maxOpenFiles?: number; nodeArgs?: readonly string[]; env?: Record<string, string> } = {},
): Promise<ExporterProcess> {
  const node = [process.execPath, '--import', 'tsx', ...(opts.nodeArgs ?? []), join(repoRoot, 'src/cli/main.ts'), 'serve', '-web.listen-address', '127.0.0.1:0', ...args];
  const caps = ['-all', ...(opts.capabilities ?? []).map((c) => `+${c}`)].join(',');
  const asUser = opts.asNobody ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', `--inh-caps=${caps}`, `--ambient-caps=${caps}`, ...node] : node;
  const [cmd, ...argv] = opts.maxOpenFiles === undefined ? asUser : ['prlimit', `--nofile=${opts.maxOpenFiles}:${opts.maxOpenFiles}`, '--', ...asUser];
  const child = spawn(cmd as string, argv, { cwd: repoRoot, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...opts.env } });
  let log = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (c: string) => (log += c));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`exporter did not start in 60 s:\n${log}`)), 60_000);
    const check = (): void => {
      const m = /msg="web server ready" port=(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        child.stderr?.off('data', check);
        resolve(Number(m[1]));
      }
    };
    child.stderr?.on('data', check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`exporter exited with ${String(code)} before listening:\n${log}`));
    });
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    child,
    pid: child.pid as number,
    port,
    url,
    log: () => log,
    scrape: async (path = '/metrics', init) => {
      const r = await fetch(`${url}${path}`, init);
      return { status: r.status, text: await r.text() };
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Polls `probe` until it returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
