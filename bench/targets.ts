import { type ChildProcess, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

/** what Prometheus 2.x sends when scraping */
const PROMETHEUS_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface ScrapeResult {
  wallMs: number;
  /** sample lines in the exposition */
  series: number;
  /** samples of namedprocess_* families */
  groupSeries: number;
  body: string;
}

/** Something the benchmark scrapes K times and measures from the outside: an exporter or the floor. */
export interface Target {
  readonly name: string;
  readonly pid: number;
  scrape(): Promise<ScrapeResult>;
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();

/** Stops every exporter and floor still running (Ctrl-C, errors). */
export async function stopAllTargets(): Promise<void> {
  await Promise.all([...running].map((c) => stopChild(c)));
}

/** Synchronous last resort for exit paths. */
export function killAllTargets(): void {
  for (const child of running) child.kill('SIGKILL');
}

function track(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

function countSeries(body: string): { series: number; groupSeries: number } {
  let series = 0;
  let groupSeries = 0;
  for (const line of body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    series++;
    if (line.startsWith('namedprocess_namegroup_')) groupSeries++;
  }
  return { series, groupSeries };
}

export function httpGet(agent: Agent, url: string, headers: Record<string, string> = {}, timeoutMs = 120_000): Promise<{ status: number; body: Buffer; gzip: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent, headers, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), gzip: res.headers['content-encoding'] === 'gzip' }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

export interface ExporterOptions {
  name: string;
  command: string;
  args: string[];
  /** default: the benchmark's own environment */
  env?: NodeJS.ProcessEnv;
  port: number;
  logDir: string;
}

/** An exporter process, scraped over HTTP like Prometheus does (keep-alive, gzip, its Accept header). */
export class Exporter implements Target {
  readonly name: string;
  readonly url: string;
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 1 });

  private constructor(
    private readonly child: ChildProcess,
    opts: ExporterOptions,
  ) {
    this.name = opts.name;
    this.url = `http://127.0.0.1:${opts.port}`;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  static async start(opts: ExporterOptions): Promise<Exporter> {
    const log = openSync(join(opts.logDir, `${opts.name}.log`), 'a');
    const child = spawn(opts.command, opts.args, { stdio: ['ignore', log, log], env: opts.env ?? process.env });
    track(child);
    const exporter = new Exporter(child, opts);
    const deadline = performance.now() + 120_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${opts.name} exited with ${child.exitCode}; see ${join(opts.logDir, `${opts.name}.log`)}`);
      try {
        const res = await httpGet(exporter.agent, `${exporter.url}/`, {}, 5000);
        if (res.status === 200) return exporter;
      } catch {
        // not listening yet
      }
      if (performance.now() > deadline) {
        await stopChild(child);
        throw new Error(`${opts.name} did not answer on ${exporter.url} within 120 s`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async scrape(): Promise<ScrapeResult> {
    const t0 = performance.now();
    const res = await httpGet(this.agent, `${this.url}/metrics`, { Accept: PROMETHEUS_ACCEPT, 'Accept-Encoding': 'gzip' });
    const wallMs = performance.now() - t0;
    if (res.status !== 200) throw new Error(`${this.name}: /metrics answered ${res.status}`);
    const body = (res.gzip ? gunzipSync(res.body) : res.body).toString('utf8');
    return { wallMs, ...countSeries(body), body };
  }

  async stop(): Promise<void> {
    this.agent.destroy();
    await stopChild(this.child);
  }
}

export type FloorMode = 'files' | 'stat' | 'taskstats';

/** bench/floor.c: one walk per line on stdin, answered with "<tasks> <ns>". */
export class Floor implements Target {
  private readonly lines: AsyncIterator<string>;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    this.lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  /** `mode`: files (stat, status, io), stat (stat only) or taskstats (stat + netlink queries); see floor.c */
  static start(name: string, binary: string, threads: boolean, mode: FloorMode = 'files'): Floor {
    const child = spawn(binary, [`-threads=${threads ? 1 : 0}`, `-mode=${mode}`], { stdio: ['pipe', 'pipe', 'inherit'] });
    track(child);
    return new Floor(name, child);
  }

  /** tasks read in the last walk */
  tasks = 0;

  async scrape(): Promise<ScrapeResult> {
    const t0 = performance.now();
    this.child.stdin!.write('walk\n');
    const next = await this.lines.next();
    const wallMs = performance.now() - t0;
    if (next.done) throw new Error(`${this.name} exited`);
    this.tasks = Number(next.value.split(' ')[0]);
    return { wallMs, series: 0, groupSeries: 0, body: '' };
  }

  async stop(): Promise<void> {
    this.child.stdin!.end();
    await stopChild(this.child);
  }
}

/**
 * Netdata's apps.plugin, run as its agent runs it (`apps.plugin 1`, stdin held open): one cycle a
 * second, each starting with the chart netdata.apps_cpu. Not scraped: its CPU is counted over a
 * window and divided by the cycles it completed in it.
 */
export class AppsPlugin {
  cycles = 0;

  private constructor(private readonly child: ChildProcess) {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      if (line.startsWith('BEGIN netdata.apps_cpu ')) this.cycles++;
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  static start(binary: string, logFile: string): AppsPlugin {
    const child = spawn(binary, ['1'], { stdio: ['pipe', 'pipe', openSync(logFile, 'a')] });
    track(child);
    return new AppsPlugin(child);
  }

  async stop(): Promise<void> {
    this.child.stdin!.end();
    await stopChild(this.child);
  }
}
