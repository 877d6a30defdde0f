/**
 * npm run bench: procgroup-exporter (with each counter source, default output and
 * process-exporter's output) side by side with prometheus-process-exporter, Netdata's apps.plugin
 * and three C floors (bench/floor.c: stat+status+io, stat only, taskstats), on workloads this script starts itself (bench/workload.c), with the same
 * config. Per exporter: CPU per scrape from /proc/<pid>/stat, wall time, peak RSS, series; then a
 * linear fit of CPU against tasks, /health latency during scrapes, and RSS over many scrapes with
 * churn. `npm run bench -- -h` lists the options.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { ProbeData } from './health-probe.js';
import { checkTaskHeadroom, cpuSeconds, describeMachine, type Machine, memory } from './proc.js';
import { fmt, linearFit, type LinearFit, markdownTable, mean, percentile } from './stats.js';
import { AppsPlugin, Exporter, Floor, type FloorMode, freePort, killAllTargets, REPO_ROOT, stopAllTargets, type Target } from './targets.js';
import { OURS_ENV, OURS_MAIN, OURS_NODE_FLAGS, writeConfig } from './ours.js';
import { buildNative, killAllWorkloads, type NativeTools, parseWorkload, stopAllWorkloads, Workload, type WorkloadSpec } from './workload.js';

interface Options {
  workloads: WorkloadSpec[];
  /** K: measured scrapes per exporter and variant */
  scrapes: number;
  warmupScrapes: number;
  pauseMs: number;
  threadVariants: boolean[];
  theirs: string | undefined;
  /** scrapes of ours (threads on) with the /health probe running, per workload */
  healthScrapes: number;
  /** window over which idle CPU (nobody scraping) is measured; /proc/<pid>/stat counts 10 ms ticks */
  idleSeconds: number;
  /** 0 disables the memory check */
  memcheckScrapes: number;
  memcheckWorkload: WorkloadSpec;
  outDir: string | undefined;
  /** counter sources of ours to measure: procfs always (the "ours" column), taskstats as a peer */
  sources: Array<'procfs' | 'taskstats'>;
  /** also measure ours at process-exporter's output (thread io and context switches, names as they are) */
  parity: boolean;
  /** Netdata's apps.plugin, measured per cycle in the threads-off variants */
  appsPlugin: string | undefined;
}

const USAGE = `usage: npm run bench -- [options]   (each also as an environment variable)
  --workloads=LIST        comma-separated NxT[+churn] (BENCH_WORKLOADS, default 2000x1,500x20,1500x20,500x1+churn)
  --scrapes=K             measured scrapes per exporter and variant (BENCH_SCRAPES, default 20)
  --pause-ms=MS           pause after each scrape (BENCH_PAUSE_MS, default 250)
  --threads=on,off        variants to run (BENCH_THREADS, default on,off)
  --health-scrapes=N      scrapes with the /health probe running, per workload (BENCH_HEALTH_SCRAPES, default 5)
  --idle-seconds=S        window for the exporters' CPU while not scraped (BENCH_IDLE_SECONDS, default 10)
  --memcheck-scrapes=N    back-to-back scrapes of the RSS check, 0 = skip (BENCH_MEMCHECK_SCRAPES, default 10000)
  --memcheck-workload=W   workload of the RSS check (BENCH_MEMCHECK_WORKLOAD, default 100x4+churn)
  --process-exporter=PATH (BENCH_PROCESS_EXPORTER, default /usr/bin/prometheus-process-exporter; "" = skip)
  --out=DIR               results directory, "" = do not write (BENCH_OUT, default bench/results)
  --sources=LIST          counter sources of ours: procfs,taskstats (BENCH_SOURCES, default procfs,taskstats;
                          taskstats and the C taskstats floor need root or CAP_NET_ADMIN, else they are skipped)
  --parity=on|off         also measure ours at process-exporter's output with threads on (BENCH_PARITY, default on)
  --apps-plugin=PATH      Netdata's apps.plugin, threads-off variants (BENCH_APPS_PLUGIN,
                          default /usr/lib/netdata/plugins.d/apps.plugin; "" = skip)
Quick run: npm run bench -- --workloads=2000x1 --scrapes=5 --memcheck-scrapes=0
`;

function parseOptions(argv: string[], env: NodeJS.ProcessEnv): Options {
  const given = new Map<string, string>();
  for (const arg of argv) {
    if (arg === '-h' || arg === '--help') {
      process.stdout.write(USAGE);
      process.exit(0);
    }
    const m = /^--([a-z-]+)=(.*)$/.exec(arg);
    if (!m) throw new Error(`unknown argument "${arg}"\n${USAGE}`);
    given.set(m[1] as string, m[2] as string);
  }
  const known = ['workloads', 'scrapes', 'pause-ms', 'threads', 'health-scrapes', 'idle-seconds', 'memcheck-scrapes', 'memcheck-workload', 'process-exporter', 'out', 'sources', 'parity', 'apps-plugin'];
  for (const key of given.keys()) if (!known.includes(key)) throw new Error(`unknown option --${key}\n${USAGE}`);
  const get = (key: string, def: string): string => given.get(key) ?? env[`BENCH_${key.toUpperCase().replace(/-/g, '_')}`] ?? def;
  const int = (key: string, def: number): number => {
    const v = Number(get(key, String(def)));
    if (!Number.isInteger(v) || v < 0) throw new Error(`--${key} wants a non-negative integer`);
    return v;
  };
  const threadVariants = get('threads', 'on,off')
    .split(',')
    .map((v) => {
      if (v !== 'on' && v !== 'off') throw new Error('--threads wants on, off or on,off');
      return v === 'on';
    });
  const theirs = get('process-exporter', '/usr/bin/prometheus-process-exporter');
  const out = get('out', join(REPO_ROOT, 'bench/results'));
  const scrapes = int('scrapes', 20);
  if (scrapes < 1) throw new Error('--scrapes must be at least 1');
  const sources = get('sources', 'procfs,taskstats')
    .split(',')
    .map((v) => {
      if (v !== 'procfs' && v !== 'taskstats') throw new Error('--sources wants procfs, taskstats or procfs,taskstats');
      return v;
    });
  const parity = get('parity', 'on');
  if (parity !== 'on' && parity !== 'off') throw new Error('--parity wants on or off');
  const apps = get('apps-plugin', '/usr/lib/netdata/plugins.d/apps.plugin');
  return {
    workloads: get('workloads', '2000x1,500x20,1500x20,500x1+churn').split(',').filter(Boolean).map(parseWorkload),
    scrapes,
    warmupScrapes: 2,
    pauseMs: int('pause-ms', 250),
    threadVariants,
    theirs: theirs === '' ? undefined : theirs,
    healthScrapes: int('health-scrapes', 5),
    idleSeconds: int('idle-seconds', 10),
    memcheckScrapes: int('memcheck-scrapes', 10000),
    memcheckWorkload: parseWorkload(get('memcheck-workload', '100x4+churn')),
    outDir: out === '' ? undefined : out,
    sources,
    parity: parity === 'on',
    appsPlugin: apps === '' ? undefined : apps,
  };
}

const log = (msg: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const MB = 2 ** 20;
const ms = (seconds: number | undefined): number | undefined => (seconds === undefined ? undefined : seconds * 1000);

interface Measurement {
  target: string;
  /** utime+stime of the process over its K scrapes (each with the pause after it) / K */
  cpuSecondsPerScrape: number;
  wallMs: { mean: number; p50: number; max: number };
  /** VmHWM after the measured scrapes (for the floor: of the C program) */
  peakRssBytes: number;
  series: number;
  groupSeries: number;
  /** CPU while not scraped, CPU seconds per second, measured over an idle window */
  idleCpuPerSecond: number | undefined;
}

/**
 * Scrapes the targets in turns (one scrape each per round, K rounds), so load from elsewhere on
 * the host that comes and goes hits all of them alike. Each target's CPU is counted from just
 * before its scrape to the end of the pause after it (GC and sweeping after the response
 * included), not while the others are scraped; /proc/<pid>/stat ticks are 10 ms, and the
 * rounding of the K windows averages out.
 */
async function measureInTurns(targets: readonly Target[], scrapes: number, pauseMs: number): Promise<Array<Omit<Measurement, 'idleCpuPerSecond'>>> {
  const walls = targets.map((): number[] => []);
  const cpu = targets.map(() => 0);
  const last = targets.map(() => ({ series: 0, groupSeries: 0 }));
  for (let i = 0; i < scrapes; i++) {
    for (const [k, target] of targets.entries()) {
      const cpu0 = cpuSeconds(target.pid);
      const r = await target.scrape();
      await sleep(pauseMs);
      cpu[k] = (cpu[k] as number) + cpuSeconds(target.pid) - cpu0;
      (walls[k] as number[]).push(r.wallMs);
      last[k] = r;
    }
  }
  return targets.map((target, k) => {
    const w = walls[k] as number[];
    return {
      target: target.name,
      cpuSecondsPerScrape: (cpu[k] as number) / scrapes,
      wallMs: { mean: mean(w), p50: percentile(w, 50), max: Math.max(...w) },
      peakRssBytes: memory(target.pid).peakRss,
      series: (last[k] as { series: number }).series,
      groupSeries: (last[k] as { groupSeries: number }).groupSeries,
    };
  });
}

/** CPU seconds per second each target spends while nobody scrapes it. */
async function idleCpu(targets: readonly Target[], windowMs: number): Promise<number[]> {
  const before = targets.map((t) => cpuSeconds(t.pid));
  await sleep(windowMs);
  return targets.map((t, i) => (cpuSeconds(t.pid) - (before[i] as number)) / (windowMs / 1000));
}

interface HealthResult {
  scrapes: number;
  probes: number;
  failures: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Scrapes `exporter` while a worker thread GETs /health every 5 ms. */
async function healthDuringScrapes(exporter: Exporter, scrapes: number, pauseMs: number): Promise<HealthResult> {
  const data: ProbeData = { url: exporter.url, intervalMs: 5 };
  const worker = new Worker(new URL('./health-probe.js', import.meta.url), { workerData: data });
  const done = new Promise<{ latencies: number[]; failures: number }>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await sleep(200);
  for (let i = 0; i < scrapes; i++) {
    await exporter.scrape();
    await sleep(pauseMs);
  }
  worker.postMessage('stop');
  const { latencies, failures } = await done;
  await worker.terminate();
  return { scrapes, probes: latencies.length, failures, p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), maxMs: Math.max(...latencies) };
}

interface VariantResult {
  threads: boolean;
  /** tasks the floor read (threads on) or processes (threads off), on the whole host */
  tasksRead: number;
  ours: Measurement;
  theirs: Measurement | undefined;
  floor: Measurement;
  oursOverTheirs: number | undefined;
  oursOverFloor: number;
  health: HealthResult | undefined;
  /**
   * Everything else measured in the same turns: ours with the taskstats source (ours-taskstats),
   * ours at process-exporter's output (ours-parity-procfs, ours-parity-taskstats; threads on), the
   * stat-only and taskstats C floors (floor-stat, floor-taskstats), and apps.plugin (threads off; CPU
   * per 1 s cycle instead of per scrape).
   */
  peers: Measurement[];
}

interface WorkloadResult {
  workload: string;
  processes: number;
  threadsPerProcess: number;
  churn: boolean;
  /** all tasks on the host while measuring (workload plus everything else) */
  hostTasks: number;
  variants: VariantResult[];
}

interface Context {
  opts: Options;
  tools: NativeTools;
  config: string;
  tmp: string;
}

function oursArgs(ctx: Context, port: number, threads: boolean, extra: readonly string[]): string[] {
  return [...OURS_NODE_FLAGS, OURS_MAIN, 'serve', '-config.path', ctx.config, '-web.listen-address', `127.0.0.1:${port}`, '-collect.min-interval', '0s', `-threads=${threads}`, ...extra];
}

/**
 * process-exporter's output as it runs by default (-gather-smaps=true): -compat=process-exporter
 * adds to thread io and context switches, unchanged and uncapped thread names, the proportional
 * memory from smaps_rollup, wchan and the per-thread states, so both read what they export
 */
const PARITY_ARGS = ['-compat=process-exporter'];

async function startOurs(ctx: Context, threads: boolean, name: string, extra: readonly string[] = ['-source=procfs']): Promise<Exporter> {
  const port = await freePort();
  return Exporter.start({ name, command: process.execPath, args: oursArgs(ctx, port, threads, extra), env: OURS_ENV, port, logDir: ctx.tmp });
}

/** Starts a peer; one that cannot run here (taskstats without CAP_NET_ADMIN) is logged and left out. */
async function optional<T>(name: string, start: () => Promise<T> | T): Promise<T | undefined> {
  try {
    return await start();
  } catch (err) {
    log(`${name} not measured: ${err instanceof Error ? err.message : String(err)}`);
    return undefined;
  }
}

/** A floor that exits at once (the taskstats floor without CAP_NET_ADMIN) is left out. */
async function startFloor(ctx: Context, name: string, threads: boolean, mode: FloorMode): Promise<Floor> {
  const floor = Floor.start(name, ctx.tools.floor, threads, mode);
  await floor.scrape();
  return floor;
}

async function runVariant(ctx: Context, spec: WorkloadSpec, threads: boolean): Promise<VariantResult> {
  const { opts } = ctx;
  const t = threads ? 'on' : 'off';
  const started: Target[] = [];
  try {
    const ours = await startOurs(ctx, threads, `ours-threads-${t}`);
    started.push(ours);
    let theirs: Exporter | undefined;
    if (opts.theirs) {
      const port = await freePort();
      const args = ['-config.path', ctx.config, '-web.listen-address', `127.0.0.1:${port}`, `-threads=${threads}`];
      theirs = await Exporter.start({ name: `process-exporter-threads-${t}`, command: opts.theirs, args, port, logDir: ctx.tmp });
      started.push(theirs);
    }
    const floor = Floor.start(`floor-threads-${t}`, ctx.tools.floor, threads);
    started.push(floor);
    const peers: Target[] = [];
    const taskstats = opts.sources.includes('taskstats');
    const peer = async (name: string, start: () => Promise<Target> | Target): Promise<void> => {
      const target = await optional(name, start);
      if (target) {
        peers.push(target);
        started.push(target);
      }
    };
    if (taskstats) await peer('ours-taskstats', () => startOurs(ctx, threads, 'ours-taskstats', ['-source=taskstats']));
    if (opts.parity && threads) {
      await peer('ours-parity-procfs', () => startOurs(ctx, threads, 'ours-parity-procfs', ['-source=procfs', ...PARITY_ARGS]));
      if (taskstats) await peer('ours-parity-taskstats', () => startOurs(ctx, threads, 'ours-parity-taskstats', ['-source=taskstats', ...PARITY_ARGS]));
    }
    await peer('floor-stat', () => startFloor(ctx, 'floor-stat', threads, 'stat'));
    if (taskstats) await peer('floor-taskstats', () => startFloor(ctx, 'floor-taskstats', threads, 'taskstats'));
    const apps = !threads && opts.appsPlugin ? await optional('apps.plugin', () => AppsPlugin.start(opts.appsPlugin as string, join(ctx.tmp, 'apps.plugin.log'))) : undefined;
    for (const target of started) for (let i = 0; i < opts.warmupScrapes; i++) await target.scrape();

    const exporters = theirs ? [ours, theirs] : [ours];
    const idle = opts.idleSeconds > 0 ? await idleCpu(exporters, opts.idleSeconds * 1000) : [];
    log(`${spec.label} threads ${t}: measuring ${opts.scrapes} scrapes each, in turns`);
    const main: Target[] = theirs ? [ours, theirs, floor] : [ours, floor];
    const appsBefore = apps ? { cpu: cpuSeconds(apps.pid), cycles: apps.cycles } : undefined;
    const measured = await measureInTurns([...main, ...peers], opts.scrapes, opts.pauseMs);
    const oursM: Measurement = { ...measured[0]!, idleCpuPerSecond: idle[0] };
    const theirsM: Measurement | undefined = theirs ? { ...measured[1]!, idleCpuPerSecond: idle[1] } : undefined;
    const floorM: Measurement = { ...measured[main.length - 1]!, idleCpuPerSecond: undefined };
    const peerMs: Measurement[] = measured.slice(main.length).map((m) => ({ ...m, idleCpuPerSecond: undefined }));
    if (apps && appsBefore) {
      const cycles = apps.cycles - appsBefore.cycles;
      if (cycles > 0) {
        const perCycle = (cpuSeconds(apps.pid) - appsBefore.cpu) / cycles;
        peerMs.push({ target: 'apps.plugin', cpuSecondsPerScrape: perCycle, wallMs: { mean: NaN, p50: NaN, max: NaN }, peakRssBytes: memory(apps.pid).peakRss, series: 0, groupSeries: 0, idleCpuPerSecond: undefined });
      }
      await apps.stop();
    }
    const health = opts.healthScrapes > 0 ? await healthDuringScrapes(ours, opts.healthScrapes, opts.pauseMs) : undefined;
    const result: VariantResult = {
      threads,
      tasksRead: floor.tasks,
      ours: oursM,
      theirs: theirsM,
      floor: floorM,
      oursOverTheirs: theirsM ? oursM.cpuSecondsPerScrape / theirsM.cpuSecondsPerScrape : undefined,
      oursOverFloor: oursM.cpuSecondsPerScrape / floorM.cpuSecondsPerScrape,
      health,
      peers: peerMs,
    };
    log(
      `${spec.label} threads ${t}: CPU/scrape ours ${fmt(oursM.cpuSecondsPerScrape)} s, process-exporter ${fmt(theirsM?.cpuSecondsPerScrape)} s, ` +
        `floor ${fmt(floorM.cpuSecondsPerScrape)} s; ours/theirs ${fmt(result.oursOverTheirs)}, ours/floor ${fmt(result.oursOverFloor, 2)}` +
        (health ? `; /health max ${fmt(health.maxMs, 1)} ms` : '') +
        peerMs.map((p) => `; ${p.target} ${fmt(p.cpuSecondsPerScrape)} s`).join(''),
    );
    return result;
  } finally {
    for (const target of started) await target.stop();
  }
}

async function runWorkload(ctx: Context, spec: WorkloadSpec): Promise<WorkloadResult> {
  checkTaskHeadroom(spec.processes * spec.threads + (spec.churn ? 1000 : 0));
  log(`${spec.label}: starting ${spec.processes} processes x ${spec.threads} threads${spec.churn ? ' + churn' : ''}`);
  const workload = await Workload.start(ctx.tools, spec);
  try {
    await sleep(1000);
    const variants: VariantResult[] = [];
    for (const threads of ctx.opts.threadVariants) variants.push(await runVariant(ctx, spec, threads));
    const withThreads = variants.find((v) => v.threads);
    return {
      workload: spec.label,
      processes: spec.processes,
      threadsPerProcess: spec.threads,
      churn: spec.churn,
      hostTasks: withThreads?.tasksRead ?? -1,
      variants,
    };
  } finally {
    await workload.stop();
  }
}

interface MemSample {
  scrape: number;
  elapsedSeconds: number;
  rssBytes: number;
  /** the exporter's own nodejs_heap_size_used_bytes */
  heapUsedBytes: number;
  trackedProcesses: number;
}

interface MemcheckResult {
  workload: string;
  scrapes: number;
  seconds: number;
  /** forks on the whole host during the check (/proc/stat "processes"): the churn, plus anything else */
  hostForks: number;
  samples: MemSample[];
  startRssBytes: number;
  middleRssBytes: number;
  endRssBytes: number;
  peakRssBytes: number;
  /** highest RSS sampled in the second half minus highest in the first half */
  growthBytes: number;
  bounded: boolean;
}

/** Growth of the sampled RSS maximum from the first to the second half that still counts as "does not grow". */
const MEMCHECK_TOLERANCE_BYTES = 5 * MB;

function hostForks(): number {
  return Number(/^processes (\d+)/m.exec(readFileSync('/proc/stat', 'latin1'))?.[1] ?? NaN);
}

/**
 * Back-to-back scrapes of ours (min-interval 0, so each one walks) while processes come and go.
 * RSS moves with the garbage collector's cycles, so single samples are compared by their maxima
 * over each half rather than first against last.
 */
async function runMemcheck(ctx: Context): Promise<MemcheckResult> {
  const spec = ctx.opts.memcheckWorkload;
  const total = ctx.opts.memcheckScrapes;
  checkTaskHeadroom(spec.processes * spec.threads + (spec.churn ? 1000 : 0));
  log(`memcheck: ${total} back-to-back scrapes, workload ${spec.label}`);
  const workload = await Workload.start(ctx.tools, spec);
  let ours: Exporter | undefined;
  try {
    ours = await startOurs(ctx, true, 'ours-memcheck');
    for (let i = 0; i < 100; i++) await ours.scrape(); // warm-up: JIT, first heap growth
    const samples: MemSample[] = [];
    const every = Math.max(1, Math.floor(total / 40));
    const forks0 = hostForks();
    const t0 = performance.now();
    for (let i = 1; i <= total; i++) {
      const r = await ours.scrape();
      if (i === 1 || i % every === 0 || i === total) {
        const gauge = (re: RegExp): number => Number(re.exec(r.body)?.[1] ?? NaN);
        samples.push({
          scrape: i,
          elapsedSeconds: (performance.now() - t0) / 1000,
          rssBytes: memory(ours.pid).rss,
          heapUsedBytes: gauge(/^nodejs_heap_size_used_bytes (\d+)/m),
          trackedProcesses: gauge(/^procgroup_exporter_processes\{state="tracked"\} (\d+)/m),
        });
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    const at = (n: number): MemSample => samples.reduce((best, s) => (Math.abs(s.scrape - n) < Math.abs(best.scrape - n) ? s : best));
    const maxRss = (from: number, to: number): number => Math.max(...samples.filter((s) => s.scrape > from && s.scrape <= to).map((s) => s.rssBytes));
    const growth = maxRss(total / 2, total) - maxRss(0, total / 2);
    return {
      workload: spec.label,
      scrapes: total,
      seconds,
      hostForks: hostForks() - forks0,
      samples,
      startRssBytes: at(1).rssBytes,
      middleRssBytes: at(total / 2).rssBytes,
      endRssBytes: at(total).rssBytes,
      peakRssBytes: memory(ours.pid).peakRss,
      growthBytes: growth,
      bounded: growth <= MEMCHECK_TOLERANCE_BYTES,
    };
  } finally {
    await ours?.stop();
    await workload.stop();
  }
}

interface Fits {
  /** CPU seconds per scrape against host tasks, threads on, workloads without churn */
  ours: LinearFit | undefined;
  theirs: LinearFit | undefined;
  floor: LinearFit | undefined;
  /** the same for every peer (ours-taskstats, ours-parity-*, floor-stat, floor-taskstats) */
  peers: Record<string, LinearFit | undefined>;
}

function fitCosts(results: readonly WorkloadResult[]): Fits {
  const on = results.filter((r) => !r.churn).flatMap((r) => r.variants.filter((v) => v.threads).map((v) => ({ tasks: v.tasksRead, v })));
  const fit = (pick: (v: VariantResult) => Measurement | undefined): LinearFit | undefined => {
    const points = on.flatMap(({ tasks, v }) => {
      const m = pick(v);
      return m ? [[tasks, m.cpuSecondsPerScrape] as const] : [];
    });
    return linearFit(points);
  };
  const names = [...new Set(on.flatMap(({ v }) => v.peers.map((p) => p.target)))];
  const peers = Object.fromEntries(names.map((name) => [name, fit((v) => v.peers.find((p) => p.target === name))]));
  return { ours: fit((v) => v.ours), theirs: fit((v) => v.theirs), floor: fit((v) => v.floor), peers };
}

function report(machine: Machine, theirsVersion: string | undefined, opts: Options, results: readonly WorkloadResult[], fits: Fits, memcheck: MemcheckResult | undefined): string {
  const mb = (b: number | undefined): string => (b === undefined ? '–' : (b / MB).toFixed(0));
  const rows = results.flatMap((r) =>
    r.variants.map((v) => [
      r.workload,
      String(v.tasksRead),
      v.threads ? 'on' : 'off',
      fmt(v.ours.cpuSecondsPerScrape),
      fmt(v.theirs?.cpuSecondsPerScrape),
      fmt(v.floor.cpuSecondsPerScrape),
      fmt(v.oursOverTheirs),
      fmt(v.oursOverFloor, 2),
      fmt(v.ours.wallMs.mean, 0),
      fmt(v.theirs?.wallMs.mean, 0),
      mb(v.ours.peakRssBytes),
      mb(v.theirs?.peakRssBytes),
      String(v.ours.series),
      v.theirs ? String(v.theirs.series) : '–',
    ]),
  );
  const main = markdownTable(
    ['workload', 'tasks', 'threads', 'CPU/scrape ours (s)', 'process-exporter (s)', 'C floor (s)', 'ours/theirs', 'ours/floor', 'wall ours (ms)', 'wall theirs (ms)', 'peak RSS ours (MB)', 'theirs (MB)', 'series ours', 'theirs'],
    rows,
  );
  const per15 = (m: Measurement | undefined): number | undefined => (m?.idleCpuPerSecond === undefined ? undefined : m.cpuSecondsPerScrape + 15 * m.idleCpuPerSecond);
  const idleRows = results.flatMap((r) =>
    r.variants.map((v) => {
      const [a, b] = [per15(v.ours), per15(v.theirs)];
      return [r.workload, v.threads ? 'on' : 'off', fmt(ms(v.ours.idleCpuPerSecond), 1), fmt(ms(v.theirs?.idleCpuPerSecond), 1), fmt(a), fmt(b), fmt(a !== undefined && b !== undefined ? a / b : undefined)];
    }),
  );
  const idleTable = markdownTable(['workload', 'threads', 'idle CPU ours (ms/s)', 'theirs (ms/s)', 'CPU per 15 s interval ours (s)', 'theirs (s)', 'ours/theirs'], idleRows);
  const fitRow = (name: string, f: LinearFit | undefined): string[] => [name, fmt(f ? f.slope * 1e6 : undefined, 2), fmt(f ? f.intercept * 1e3 : undefined, 1), fmt(f?.r2, 4)];
  const fitTable = markdownTable(['CPU per scrape vs tasks (threads on)', 'µs per task', 'intercept (ms)', 'R²'], [
    fitRow('procgroup-exporter', fits.ours),
    fitRow('process-exporter', fits.theirs),
    fitRow('C read floor', fits.floor),
    ...Object.entries(fits.peers).map(([name, f]) => fitRow(name, f)),
  ]);
  // every target of every variant, as ratios to process-exporter and to the stat-only C floor
  const allRows = results.flatMap((r) =>
    r.variants.flatMap((v) => {
      const statFloor = v.peers.find((p) => p.target === 'floor-stat')?.cpuSecondsPerScrape;
      const theirs = v.theirs?.cpuSecondsPerScrape;
      const label = (name: string): string => name.replace(/-threads-(on|off)$/, '');
      return [v.ours, ...(v.theirs ? [v.theirs] : []), v.floor, ...v.peers].map((m) => [
        r.workload,
        v.threads ? 'on' : 'off',
        m === v.ours ? 'ours-procfs' : label(m.target),
        fmt(m.cpuSecondsPerScrape),
        fmt(theirs === undefined ? undefined : m.cpuSecondsPerScrape / theirs),
        fmt(statFloor === undefined ? undefined : m.cpuSecondsPerScrape / statFloor, 2),
        Number.isNaN(m.wallMs.mean) ? '–' : fmt(m.wallMs.mean, 0),
        mb(m.peakRssBytes),
        m.series ? String(m.series) : '–',
      ]);
    }),
  );
  const allTable = markdownTable(['workload', 'threads', 'target', 'CPU per scrape or cycle (s)', 'x process-exporter', 'x stat floor', 'wall (ms)', 'peak RSS (MB)', 'series'], allRows);
  const health = results.flatMap((r) =>
    r.variants.filter((v) => v.health).map((v) => [r.workload, String(v.tasksRead), v.threads ? 'on' : 'off', String(v.health!.scrapes), String(v.health!.probes), fmt(v.health!.p50Ms, 1), fmt(v.health!.p99Ms, 1), fmt(v.health!.maxMs, 1)]),
  );
  const healthTable = markdownTable(['workload', 'tasks', 'threads', 'scrapes', '/health probes', 'p50 (ms)', 'p99 (ms)', 'max (ms)'], health);
  const mem = memcheck
    ? markdownTable(
        ['workload', 'scrapes', 'seconds', 'host forks', 'RSS after 1 (MB)', `after ${memcheck.scrapes / 2} (MB)`, `after ${memcheck.scrapes} (MB)`, 'max 2nd half - max 1st half (MB)', 'VmHWM (MB)', 'bounded'],
        [
          [
            memcheck.workload,
            String(memcheck.scrapes),
            fmt(memcheck.seconds, 0),
            String(memcheck.hostForks),
            mb(memcheck.startRssBytes),
            mb(memcheck.middleRssBytes),
            mb(memcheck.endRssBytes),
            fmt(memcheck.growthBytes / MB, 1),
            mb(memcheck.peakRssBytes),
            memcheck.bounded ? 'yes' : 'NO',
          ],
        ],
      )
    : '(memory check skipped)';
  const machineLine =
    `${machine.cpuModel}, ${machine.cpus} CPUs${machine.virtualization ? ` (${machine.virtualization})` : ''}, ${machine.memoryGiB} GiB, ` +
    `Linux ${machine.kernel}, Node ${machine.node}, process-exporter ${theirsVersion ?? 'not run'}; ` +
    `K=${opts.scrapes} scrapes per exporter, ${opts.pauseMs} ms pause`;
  return [
    `Machine: ${machineLine}`,
    '',
    main,
    '',
    'Every target, measured in the same turns (ours-procfs/ours-taskstats: default output; ours-parity-*: process-exporter\'s output; apps.plugin: per 1 s cycle):',
    '',
    allTable,
    '',
    'CPU while nobody scrapes, and per scrape interval of 15 s (one scrape + 15 s idle):',
    '',
    idleTable,
    '',
    fitTable,
    '',
    '/health latency while ours (threads on) is scraped:',
    '',
    healthTable,
    '',
    'RSS with churn:',
    '',
    mem,
    '',
  ].join('\n');
}

/** The goals of issue 4, checked against this run. The C floor includes task/ reads, so it is the threads-on yardstick. */
function goals(results: readonly WorkloadResult[], fits: Fits, memcheck: MemcheckResult | undefined): string[] {
  const lines: string[] = [];
  const v = (label: string, threads: boolean): VariantResult | undefined => results.find((r) => r.workload === label)?.variants.find((x) => x.threads === threads);
  const mark = (ok: boolean): string => (ok ? 'met' : 'NOT met');
  for (const threads of [true, false]) {
    const t = threads ? 'on' : 'off';
    const a = v('500x20', threads);
    if (a?.oursOverTheirs !== undefined) lines.push(`500x20 threads ${t}: ours/process-exporter ${fmt(a.oursOverTheirs)} <= 0.125 (stretch 0.1): ${mark(a.oursOverTheirs <= 0.125)}`);
    if (a && threads) lines.push(`500x20 threads on: ours/C floor ${fmt(a.oursOverFloor, 2)} <= 1.5: ${mark(a.oursOverFloor <= 1.5)}`);
    const b = v('2000x1', threads);
    if (b?.oursOverTheirs !== undefined) lines.push(`2000x1 threads ${t}: ours/process-exporter ${fmt(b.oursOverTheirs)} <= 0.125: ${mark(b.oursOverTheirs <= 0.125)}`);
  }
  const big = v('1500x20', true);
  if (big) {
    lines.push(`1500x20 threads on: peak RSS ${(big.ours.peakRssBytes / MB).toFixed(0)} MB < 120 MB: ${mark(big.ours.peakRssBytes < 120 * MB)}`);
    if (big.health) lines.push(`1500x20 threads on: /health max ${fmt(big.health.maxMs, 1)} ms < 50 ms: ${mark(big.health.maxMs < 50)}`);
  }
  if (fits.ours) lines.push(`scaling: ours ${fmt(fits.ours.slope * 1e6, 2)} us CPU per task, R^2 ${fmt(fits.ours.r2, 4)} over ${fits.ours.points} workloads (threads on)`);
  // issue 16: the taskstats source, at parity and with the default output
  const peerOf = (x: VariantResult | undefined, name: string): Measurement | undefined => x?.peers.find((p) => p.target === name);
  for (const [label, limit] of [['500x20', 1 / 15], ['2000x1', 1 / 10]] as const) {
    const x = v(label, true);
    const parity = peerOf(x, 'ours-parity-taskstats');
    if (parity && x?.theirs) lines.push(`${label} threads on, process-exporter's output: ours (taskstats)/process-exporter ${fmt(parity.cpuSecondsPerScrape / x.theirs.cpuSecondsPerScrape)} <= ${fmt(limit)}: ${mark(parity.cpuSecondsPerScrape / x.theirs.cpuSecondsPerScrape <= limit)}`);
  }
  const d = v('500x20', true);
  const oursTs = peerOf(d, 'ours-taskstats');
  const statFloor = peerOf(d, 'floor-stat');
  if (oursTs && statFloor) lines.push(`500x20 threads on, default output: ours (taskstats)/stat-only C floor ${fmt(oursTs.cpuSecondsPerScrape / statFloor.cpuSecondsPerScrape, 2)} <= 1: ${mark(oursTs.cpuSecondsPerScrape <= statFloor.cpuSecondsPerScrape)}`);
  const off = v('500x20', false);
  const apps = peerOf(off, 'apps.plugin');
  if (off && apps) {
    const best = Math.min(off.ours.cpuSecondsPerScrape, peerOf(off, 'ours-taskstats')?.cpuSecondsPerScrape ?? Infinity);
    lines.push(`500x20 threads off: ours (best source)/apps.plugin per cycle ${fmt(best / apps.cpuSecondsPerScrape, 2)} <= 1: ${mark(best <= apps.cpuSecondsPerScrape)}`);
  }
  if (memcheck) lines.push(`RSS over ${memcheck.scrapes} scrapes with churn: max of 2nd half - max of 1st half = ${(memcheck.growthBytes / MB).toFixed(1)} MB <= ${MEMCHECK_TOLERANCE_BYTES / MB} MB: ${mark(memcheck.bounded)}`);
  return lines;
}

/** The commit the measured build came from, and whether src/ or bench/ differed from it. */
function sourceRevision(): { commit: string; modified: boolean } | undefined {
  try {
    const git = (...args: string[]): string => execFileSync('git', ['-C', REPO_ROOT, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return { commit: git('rev-parse', 'HEAD'), modified: git('status', '--porcelain', '--', 'src', 'bench') !== '' };
  } catch {
    return undefined;
  }
}

function theirsVersion(path: string | undefined): string | undefined {
  if (!path) return undefined;
  try {
    const out = execFileSync(path, ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    return /revision: (\S+)\)/.exec(out)?.[1] ?? out.split('\n')[0]?.trim();
  } catch (err) {
    const e = err as { stderr?: string };
    return /revision: (\S+)\)/.exec(e.stderr ?? '')?.[1];
  }
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2), process.env);
  if (opts.theirs && !existsSync(opts.theirs)) {
    log(`${opts.theirs} not found: measuring without process-exporter`);
    opts.theirs = undefined;
  }
  const tmp = mkdtempSync(join(tmpdir(), 'procgroup-bench-'));
  let ok = false;
  try {
    const tools = buildNative(tmp);
    const ctx: Context = { opts, tools, config: writeConfig(tmp), tmp };
    const machine = describeMachine();
    const version = theirsVersion(opts.theirs);
    const results: WorkloadResult[] = [];
    for (const spec of opts.workloads) results.push(await runWorkload(ctx, spec));
    const memcheck = opts.memcheckScrapes > 0 ? await runMemcheck(ctx) : undefined;
    const fits = fitCosts(results);
    const table = report(machine, version, opts, results, fits, memcheck);
    const goalLines = goals(results, fits, memcheck);
    process.stdout.write(`\n${table}\nGoals (issues 4 and 16):\n${goalLines.map((l) => `- ${l}`).join('\n')}\n`);

    if (opts.outDir) {
      mkdirSync(opts.outDir, { recursive: true });
      const date = new Date().toISOString().slice(0, 10);
      const common = { date: new Date().toISOString(), machine, source: sourceRevision(), processExporter: version, options: { ...opts, workloads: opts.workloads.map((w) => w.label), memcheckWorkload: opts.memcheckWorkload.label } };
      for (const r of results) writeFileSync(join(opts.outDir, `${date}-${r.workload}.json`), `${JSON.stringify({ ...common, ...r }, null, 2)}\n`);
      if (memcheck) writeFileSync(join(opts.outDir, `${date}-memcheck.json`), `${JSON.stringify({ ...common, ...memcheck }, null, 2)}\n`);
      writeFileSync(join(opts.outDir, `${date}-summary.json`), `${JSON.stringify({ ...common, fits, goals: goalLines, table }, null, 2)}\n`);
      log(`results written to ${opts.outDir}/${date}-*.json`);
    }
    ok = true;
  } finally {
    await stopAllTargets();
    await stopAllWorkloads();
    if (ok) rmSync(tmp, { recursive: true, force: true });
    else log(`logs kept in ${tmp}`);
  }
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130); // second Ctrl-C: the exit handler kills what is left
    interrupted = true;
    log(`${signal}: stopping workloads and exporters`);
    void Promise.all([stopAllTargets(), stopAllWorkloads()]).finally(() => process.exit(130));
  });
}
process.on('exit', () => {
  killAllTargets();
  killAllWorkloads();
});

main().catch((err: unknown) => {
  log(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  process.exitCode = 1;
});
