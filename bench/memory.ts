/**
 * npm run bench:memory: where the exporter's memory goes, by one command.
 *
 * Cases: `idle` (this host, config/default.yaml) and workloads `NxT` (bench/workload.c, 20 names,
 * one `{{.Comm}}` rule), each run on every Node binary given and every variant (V8 flags, malloc
 * environment); back-to-back scrapes, then VmHWM, VmRSS, RssAnon, RssFile from /proc/<pid>/status
 * and CPU per scrape. `--modules` measures instead what importing each dependency costs a fresh
 * Node process (RssAnon and RssFile over a process that imported nothing). `-h` lists the options.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkTaskHeadroom, cpuSeconds, describeMachine } from './proc.js';
import { fmt, markdownTable, percentile } from './stats.js';
import { Exporter, freePort, killAllTargets, REPO_ROOT, stopAllTargets } from './targets.js';
import { OURS_ARENAS, OURS_MAIN, OURS_NODE_FLAGS, writeConfig } from './ours.js';
import { buildNative, killAllWorkloads, parseWorkload, stopAllWorkloads, Workload, type WorkloadSpec } from './workload.js';

const MiB = 1024 * 1024;

interface Variant {
  name: string;
  nodeFlags: string[];
  env: Record<string, string>;
}

interface Options {
  cases: string[];
  scrapes: number;
  nodes: string[];
  variants: Variant[];
  source: string;
  modules: string[] | undefined;
  repeats: number;
  out: string | undefined;
}

/** What the image runs: main.ts's #! flags and the Dockerfile's MALLOC_ARENA_MAX. */
const IMAGE: Variant = { name: 'image', nodeFlags: OURS_NODE_FLAGS, env: OURS_ARENAS === undefined ? {} : { MALLOC_ARENA_MAX: OURS_ARENAS } };
const DEFAULTS: Variant = { name: 'defaults', nodeFlags: [], env: {} };

/** every dependency the exporter imports, and the Node modules the server needs */
const DEFAULT_MODULES = ['node:http', 'node:https', 'node:zlib', 'koa', '@koa/router', 'yaml', 'ajv', 'prom-client', 're2js', 'koffi', 'bcryptjs', 'fast-glob', 'terminal-kit'];

const USAGE = `usage: npm run bench:memory -- [options]
  --cases=LIST        idle and/or workloads NxT (default idle,500x20,1500x20)
  --scrapes=N         back-to-back scrapes per run (default 20)
  --node=PATH         a Node binary to run the exporter with; repeat to compare (default: this one)
  --variant=NAME:ARGS V8 flags and environment, e.g. 'gc1:--single-threaded-gc MALLOC_ARENA_MAX=2';
                      repeat; built in: image (main.ts #! flags + the Dockerfile's MALLOC_ARENA_MAX),
                      defaults (none). Default: image,defaults
  --source=S          -source of the exporter (default procfs, as npm run bench)
  --modules[=LIST]    instead: RssAnon/RssFile each import adds to a fresh process (default list:
                      ${DEFAULT_MODULES.join(', ')})
  --repeats=N         processes per module and baseline, median taken (default 5)
  --out=FILE          also write the results as JSON
Run it under the bench lock on a quiet machine; a run of the defaults takes about 3 minutes.
`;

function parseVariant(text: string): Variant {
  if (text === 'image') return IMAGE;
  if (text === 'defaults') return DEFAULTS;
  const colon = text.indexOf(':');
  if (colon <= 0) throw new Error(`--variant=${text}: want image, defaults or NAME:ARGS`);
  const variant: Variant = { name: text.slice(0, colon), nodeFlags: [], env: {} };
  for (const word of text.slice(colon + 1).split(' ').filter(Boolean)) {
    const env = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(word);
    if (env) variant.env[env[1]!] = env[2]!;
    else variant.nodeFlags.push(word);
  }
  return variant;
}

function parseOptions(argv: readonly string[]): Options {
  const opts: Options = { cases: ['idle', '500x20', '1500x20'], scrapes: 20, nodes: [], variants: [], source: 'procfs', modules: undefined, repeats: 5, out: undefined };
  for (const arg of argv) {
    if (arg === '-h' || arg === '--help') {
      process.stdout.write(USAGE);
      process.exit(0);
    }
    const m = /^--([a-z]+)(?:=(.*))?$/.exec(arg);
    const [key, value] = [m?.[1], m?.[2]];
    if (key === 'modules') opts.modules = value ? value.split(',') : DEFAULT_MODULES;
    else if (value === undefined) throw new Error(`unknown argument ${arg}\n${USAGE}`);
    else if (key === 'cases') opts.cases = value.split(',');
    else if (key === 'scrapes') opts.scrapes = Number(value);
    else if (key === 'repeats') opts.repeats = Number(value);
    else if (key === 'node') opts.nodes.push(value);
    else if (key === 'variant') opts.variants.push(parseVariant(value));
    else if (key === 'source') opts.source = value;
    else if (key === 'out') opts.out = value;
    else throw new Error(`unknown argument ${arg}\n${USAGE}`);
  }
  if (opts.nodes.length === 0) opts.nodes.push(process.execPath);
  if (opts.variants.length === 0) opts.variants.push(IMAGE, DEFAULTS);
  for (const c of opts.cases) if (c !== 'idle') parseWorkload(c);
  return opts;
}

interface Status {
  hwm: number;
  rss: number;
  anon: number;
  file: number;
}

function status(pid: number): Status {
  return parseStatus(readFileSync(`/proc/${pid}/status`, 'latin1'));
}

function parseStatus(text: string): Status {
  const kb = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
  return { hwm: kb('VmHWM'), rss: kb('VmRSS'), anon: kb('RssAnon'), file: kb('RssFile') };
}

function nodeVersion(node: string): string {
  return execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
}

interface RunResult {
  case: string;
  node: string;
  variant: string;
  started: Status;
  after: Status;
  cpuMsPerScrape: number;
  series: number;
}

async function runOne(node: string, variant: Variant, caseName: string, config: string | undefined, scrapes: number, source: string, logDir: string): Promise<RunResult> {
  const port = await freePort();
  const args = [...variant.nodeFlags, OURS_MAIN, 'serve', '-web.listen-address', `127.0.0.1:${port}`, `-source=${source}`];
  if (config) args.push('-config.path', config, '-collect.min-interval', '0s', '-threads=true');
  const name = `${caseName}-${variant.name}-${nodeVersion(node)}`;
  const exporter = await Exporter.start({ name, command: node, args, env: { ...process.env, ...variant.env }, port, logDir });
  try {
    const started = status(exporter.pid);
    const cpu0 = cpuSeconds(exporter.pid);
    let series = 0;
    for (let i = 0; i < scrapes; i++) series = (await exporter.scrape()).series;
    const cpuMsPerScrape = ((cpuSeconds(exporter.pid) - cpu0) * 1000) / scrapes;
    return { case: caseName, node: nodeVersion(node), variant: variant.name, started, after: status(exporter.pid), cpuMsPerScrape, series };
  } finally {
    await exporter.stop();
  }
}

async function measureRuns(opts: Options): Promise<RunResult[]> {
  const tmp = mkdtempSync(join(tmpdir(), 'procgroup-memory-'));
  const results: RunResult[] = [];
  try {
    const needsWorkload = opts.cases.some((c) => c !== 'idle');
    const tools = needsWorkload ? buildNative(tmp) : undefined;
    const config = writeConfig(tmp);
    for (const caseName of opts.cases) {
      let workload: Workload | undefined;
      if (caseName !== 'idle') {
        const spec: WorkloadSpec = parseWorkload(caseName);
        try {
          checkTaskHeadroom(spec.processes * spec.threads);
          workload = await Workload.start(tools!, spec);
        } catch (err) {
          // one workload that does not fit (other tasks on the host hold the pids) spoils no other case
          process.stderr.write(`${caseName} left out: ${err instanceof Error ? err.message : String(err)}\n`);
          continue;
        }
      }
      try {
        for (const node of opts.nodes) {
          for (const variant of opts.variants) {
            const r = await runOne(node, variant, caseName, caseName === 'idle' ? undefined : config, opts.scrapes, opts.source, tmp);
            process.stderr.write(`${r.case} ${r.node} ${r.variant}: VmHWM ${fmt(r.after.hwm / MiB, 1)} MiB, RssAnon ${fmt(r.after.anon / MiB, 1)}, RssFile ${fmt(r.after.file / MiB, 1)}, ${fmt(r.cpuMsPerScrape, 1)} ms CPU/scrape\n`);
            results.push(r);
          }
        }
      } finally {
        await workload?.stop();
      }
    }
  } finally {
    await stopAllTargets();
    await stopAllWorkloads();
    rmSync(tmp, { recursive: true, force: true });
  }
  return results;
}

function runsTable(results: readonly RunResult[]): string {
  const mib = (n: number): string => fmt(n / MiB, 1);
  return markdownTable(
    ['case', 'node', 'variant', 'started RSS (anon+file)', 'VmHWM', 'VmRSS', 'RssAnon', 'RssFile', 'CPU/scrape (ms)', 'series'],
    results.map((r) => [r.case, r.node, r.variant, `${mib(r.started.rss)} (${mib(r.started.anon)}+${mib(r.started.file)})`, mib(r.after.hwm), mib(r.after.rss), mib(r.after.anon), mib(r.after.file), fmt(r.cpuMsPerScrape, 1), String(r.series)]),
  );
}

/** The child's script: import each given module in turn, let the GC settle, print /proc/self/status. */
const IMPORT_SCRIPT = `
for (const m of JSON.parse(process.env.IMPORTS)) await import(m);
await new Promise((r) => setTimeout(r, 200));
globalThis.gc();
await new Promise((r) => setTimeout(r, 200));
process.stdout.write(require('node:fs').readFileSync('/proc/self/status', 'latin1'));
`;

function importedStatus(node: string, variant: Variant, imports: readonly string[]): Status {
  // CommonJS eval so require() is there; import() resolves bare names from the repository root
  const text = execFileSync(node, [...variant.nodeFlags, '--expose-gc', '-e', `(async () => {${IMPORT_SCRIPT}})()`], {
    cwd: REPO_ROOT,
    encoding: 'latin1',
    env: { ...process.env, ...variant.env, IMPORTS: JSON.stringify(imports) },
  });
  return parseStatus(text);
}

interface ModuleCost {
  node: string;
  variant: string;
  module: string;
  /** imported alone: median over the repeats minus the baseline's median */
  alone: { anon: number; file: number };
  /** what it adds to all the others (all minus all but it): what leaving it out would save */
  marginal: { anon: number; file: number };
}

function medianOf(samples: readonly Status[], key: keyof Status): number {
  return percentile(samples.map((s) => s[key]), 50);
}

function measureModules(opts: Options, modules: readonly string[]): { baseline: Array<{ node: string; variant: string; anon: number; file: number }>; costs: ModuleCost[] } {
  const baseline: Array<{ node: string; variant: string; anon: number; file: number }> = [];
  const costs: ModuleCost[] = [];
  for (const node of opts.nodes) {
    const version = nodeVersion(node);
    const present = modules.filter((m) => {
      const ok = resolvable(node, m);
      if (!ok) process.stderr.write(`${m}: cannot be imported here, left out\n`);
      return ok;
    });
    for (const variant of opts.variants) {
      const sample = (imports: readonly string[]): { anon: number; file: number } => {
        const s = Array.from({ length: opts.repeats }, () => importedStatus(node, variant, imports));
        return { anon: medianOf(s, 'anon'), file: medianOf(s, 'file') };
      };
      const base = sample([]);
      const all = sample(present);
      baseline.push({ node: version, variant: variant.name, ...base });
      for (const module of present) {
        const alone = sample([module]);
        const without = sample(present.filter((m) => m !== module));
        costs.push({
          node: version,
          variant: variant.name,
          module,
          alone: { anon: alone.anon - base.anon, file: alone.file - base.file },
          marginal: { anon: all.anon - without.anon, file: all.file - without.file },
        });
      }
      costs.push({ node: version, variant: variant.name, module: 'all of them', alone: { anon: all.anon - base.anon, file: all.file - base.file }, marginal: { anon: all.anon - base.anon, file: all.file - base.file } });
    }
  }
  return { baseline, costs };
}

function resolvable(node: string, module: string): boolean {
  try {
    execFileSync(node, ['-e', `import(${JSON.stringify(module)}).catch(() => process.exit(1))`], { cwd: REPO_ROOT, stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function modulesTable(baseline: ReadonlyArray<{ node: string; variant: string; anon: number; file: number }>, costs: readonly ModuleCost[]): string {
  const mib = (n: number): string => fmt(n / MiB, 1);
  return [
    markdownTable(['node', 'variant', 'RssAnon of a process that imported nothing (MiB)', 'RssFile (MiB)'], baseline.map((b) => [b.node, b.variant, mib(b.anon), mib(b.file)])),
    markdownTable(
      ['node', 'variant', 'import', 'alone: RssAnon', 'alone: RssFile', 'on top of the others: RssAnon', 'RssFile'],
      costs.map((c) => [c.node, c.variant, c.module, mib(c.alone.anon), mib(c.alone.file), mib(c.marginal.anon), mib(c.marginal.file)]),
    ),
  ].join('\n\n');
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  let json: unknown;
  if (opts.modules) {
    const { baseline, costs } = measureModules(opts, opts.modules);
    process.stdout.write(`\n${modulesTable(baseline, costs)}\n`);
    json = { baseline, costs };
  } else {
    const runs = await measureRuns(opts);
    process.stdout.write(`\n${runsTable(runs)}\n`);
    json = { scrapes: opts.scrapes, source: opts.source, runs };
  }
  if (opts.out) {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT, encoding: 'utf8' }).trim();
    writeFileSync(opts.out, `${JSON.stringify({ date: new Date().toISOString(), commit, machine: describeMachine(), variants: opts.variants, ...(json as object) }, null, 2)}\n`);
  }
}

process.on('exit', () => {
  killAllTargets();
  killAllWorkloads();
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    void Promise.all([stopAllTargets(), stopAllWorkloads()]).finally(() => process.exit(130));
  });
}
await main();
