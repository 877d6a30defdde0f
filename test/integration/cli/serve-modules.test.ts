/**
 * Modules load only where used: a real exporter without basic auth, perf, taskstats and the other
 * subcommands (-source=procfs -exit-records=false, no web config) never loads bcryptjs, koffi, terminal-kit, the report/deploy code or the other
 * subcommands' modules, even after it served /metrics and the groups page. Every module the
 * exporter resolves is logged by a loader hook (test/helpers/module-trace.ts); koffi's native
 * library is also looked for in /proc/<pid>/maps, which sees a require() no hook does. bcryptjs
 * runs in a worker thread that the first basic-auth check starts (src/server/bcrypt-worker.ts),
 * where no hook runs: the trace catches an import of it on the main thread.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { repoRoot, startExporter } from '../../helpers/exporter-process.js';

const tmp = mkdtempSync(join(tmpdir(), 'serve-modules-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const TRACER = join(repoRoot, 'test/helpers/module-trace.ts');

/** Starts serve with the tracer, runs `use`, and returns the module URLs and mapped files. */
async function modulesOf(name: string, args: readonly string[], use: (url: string) => Promise<void>): Promise<{ modules: string[]; maps: string }> {
  const traceFile = join(tmp, `${name}.trace`);
  writeFileSync(traceFile, '');
  const exporter = await startExporter(args, { nodeArgs: ['--import', TRACER], env: { MODULE_TRACE_FILE: traceFile } });
  try {
    await use(exporter.url);
    const maps = readFileSync(`/proc/${exporter.pid}/maps`, 'latin1');
    return { modules: [...new Set(readFileSync(traceFile, 'utf8').split('\n').filter(Boolean))], maps };
  } finally {
    await exporter.stop();
  }
}

async function get(url: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(url, { headers });
  await res.arrayBuffer();
  return res.status;
}

/** what an exporter without those features must not load: packages, and our modules by path */
const NOT_LOADED: ReadonlyArray<[string, RegExp]> = [
  ['bcryptjs (basic auth)', /\/node_modules\/bcryptjs\//],
  ['koffi (perf, taskstats)', /\/node_modules\/koffi\//],
  ['terminal-kit (top)', /\/node_modules\/terminal-kit\//],
  ['report code', /\/src\/report\//],
  ['deploy code', /\/src\/kube\//],
  ['other subcommands', /\/src\/cli\/(report|deploy|delete|prom|top|top-screen|explain|once|check-config)\.[jt]s$/],
];

test('serve without basic auth, perf or taskstats loads none of their modules, nor other subcommands', async () => {
  // -exit-records is on by default and, with CAP_NET_ADMIN, listens through taskstats (koffi)
  const { modules, maps } = await modulesOf('plain', ['-source=procfs', '-exit-records=false'], async (url) => {
    assert.equal(await get(`${url}/metrics`), 200);
    assert.equal(await get(`${url}/`), 200);
    assert.equal(await get(`${url}/health`), 200);
  });
  // the trace sees this exporter's own modules and packages, so an absence below means something
  assert.ok(modules.some((u) => /\/src\/cli\/serve\.ts$/.test(u)), 'serve.ts in the trace');
  assert.ok(modules.some((u) => u.includes('/node_modules/prom-client/')), 'prom-client in the trace');
  for (const [what, pattern] of NOT_LOADED) {
    assert.deepEqual(modules.filter((u) => pattern.test(u)), [], `${what} loaded`);
  }
  assert.doesNotMatch(maps, /koffi/, 'koffi native library mapped');
});

test('with exit records (taskstats), koffi is mapped: the maps check sees a library loaded on demand', async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('needs root (CAP_NET_ADMIN) for taskstats exit records');
    return;
  }
  const { maps } = await modulesOf('exit-records', ['-source=procfs', '-exit-records=true'], async (url) => {
    assert.equal(await get(`${url}/metrics`), 200);
  });
  assert.match(maps, /koffi.*\.node$/m);
});
