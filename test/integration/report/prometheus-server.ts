/**
 * Runs a real `prometheus` (Debian package) for tests: backfills OpenMetrics text with
 * `promtool tsdb create-blocks-from openmetrics`, serves it on a free loopback port, stops it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { writeFile, mkdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Why the Prometheus tests cannot run here, or undefined when they can. */
export function prometheusMissing(): string | undefined {
  for (const bin of ['prometheus', 'promtool']) {
    const r = spawnSync(bin, ['--version'], { stdio: 'ignore' });
    if (r.error || r.status !== 0) return `${bin} is not installed (apt-get install -y prometheus)`;
  }
  return undefined;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => server.listen(0, '127.0.0.1', resolve).once('error', reject));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Write `openMetrics` (must end with `# EOF`) and turn it into TSDB blocks under `dataDir`. */
export async function backfill(dir: string, openMetrics: string, dataDir: string): Promise<void> {
  const file = path.join(dir, 'backfill.om');
  await writeFile(file, openMetrics);
  await mkdir(dataDir, { recursive: true });
  const r = spawnSync('promtool', ['tsdb', 'create-blocks-from', 'openmetrics', file, dataDir], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`promtool create-blocks-from failed (${r.status}): ${r.stderr}${r.stdout}`);
}

export interface PrometheusServer {
  port: number;
  /** everything the server logged, for failure messages */
  log(): string;
  stop(): Promise<void>;
}

export interface StartOptions {
  dir: string;
  dataDir: string;
  /** global.evaluation_interval: also the default step of subqueries */
  evaluationInterval: string;
  /** --web.config.file contents (TLS, basic auth) */
  webConfig?: string;
}

export async function startPrometheus(opts: StartOptions): Promise<PrometheusServer> {
  const port = await freePort();
  const config = path.join(opts.dir, `prometheus-${port}.yml`);
  await writeFile(config, `global:\n  evaluation_interval: ${opts.evaluationInterval}\n  scrape_interval: ${opts.evaluationInterval}\n`);
  const args = [
    `--config.file=${config}`,
    `--storage.tsdb.path=${opts.dataDir}`,
    // the backfilled data lies hours in the past; never let retention drop it
    '--storage.tsdb.retention.time=10y',
    `--web.listen-address=127.0.0.1:${port}`,
  ];
  if (opts.webConfig !== undefined) {
    const webConfig = path.join(opts.dir, `web-${port}.yml`);
    await writeFile(webConfig, opts.webConfig);
    args.push(`--web.config.file=${webConfig}`);
  }
  const child: ChildProcess = spawn('prometheus', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout?.on('data', (c: Buffer) => (log += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (log += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  // readiness: the port accepts connections and the TSDB is open ("Server is ready" in the log)
  const deadline = Date.now() + 20_000;
  while (!/Server is ready to receive web requests/.test(log)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus did not become ready on port ${port}:\n${log}`);
    }
    await sleep(100);
  }
  return { port, log: () => log, stop };
}
