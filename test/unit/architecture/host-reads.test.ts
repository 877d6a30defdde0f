/**
 * The layering of DESIGN.md section 2, checked on the code as it runs and as it is written:
 * - during a collection cycle, every file opened under the procfs root or the cgroup2 mount is
 *   opened on behalf of src/host/ (the stack above the open, past the reader itself and the pure
 *   parsers of procfs/ and cgroup/, reaches host/ first). The exporter's own /proc/self and the
 *   kernel's settings under sys/ (e.g. kernel.task_delayacct) are not host state and are left out;
 * - types flow down: tracker/ imports neither grouper/ nor collectors/ (nor anything above them),
 *   host/ imports nothing from tracker/ and above.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { EXPORTER_FLAGS, exporterSettings, groupingSource } from '../../../src/cli/exporter-flags.js';
import { parseFlags } from '../../../src/cli/flags.js';
import { Host } from '../../../src/host/host.js';
import { createLogger } from '../../../src/log.js';
import { buildPipeline } from '../../../src/pipeline/setup.js';

const SRC = path.resolve(import.meta.dirname, '../../../src');
/** the reader itself and the pure parsers/resolvers the host layer calls */
const PASS_THROUGH = [path.join(SRC, 'host/proc-reader.ts'), path.join(SRC, 'procfs') + path.sep, path.join(SRC, 'cgroup') + path.sep];

/** The first frame in src/ that is neither the reader nor a parser: who asked for the read. */
function requester(stack: string): string | undefined {
  for (const line of stack.split('\n').slice(1)) {
    const m = /\(?(?:file:\/\/)?(\/[^():]+\.ts):\d+:\d+\)?$/.exec(line.trim());
    const file = m?.[1];
    if (!file || !file.startsWith(SRC + path.sep)) continue;
    if (PASS_THROUGH.some((p) => file === p || file.startsWith(p))) continue;
    return path.relative(SRC, file);
  }
  return undefined;
}

type Patched = 'openSync' | 'readFileSync' | 'readdirSync' | 'statSync' | 'existsSync' | 'readlinkSync';
const PATCHED: Patched[] = ['openSync', 'readFileSync', 'readdirSync', 'statSync', 'existsSync', 'readlinkSync'];

/**
 * Records, while `run` runs, who opened each file under one of `roots` (not under their self/).
 * Wraps node:fs and node:fs/promises and syncs the ES module bindings, so `import { openSync }` sees it.
 */
async function recordReads(roots: readonly string[], run: () => Promise<void>): Promise<Map<string, string>> {
  const seen = new Map<string, string>(); // requester -> one example path
  const under = (p: unknown): boolean => {
    if (typeof p !== 'string') return false;
    return roots.some((r) => (p === r || p.startsWith(r + '/')) && !/^\/(self|thread-self|sys)\//.test(p.slice(r.length)));
  };
  const note = (p: unknown): void => {
    if (!under(p)) return;
    const who = requester(new Error().stack ?? '') ?? '(no src frame)';
    if (!seen.has(who)) seen.set(who, String(p));
  };
  const saved = new Map<string, unknown>();
  const target = fs as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const name of PATCHED) {
    const original = target[name] as (...args: unknown[]) => unknown;
    saved.set(name, original);
    target[name] = (...args: unknown[]) => {
      note(args[0]);
      return original.apply(fs, args);
    };
  }
  const promises = fsp as unknown as Record<string, (...args: unknown[]) => unknown>;
  const readdir = promises['readdir'] as (...args: unknown[]) => unknown;
  promises['readdir'] = (...args: unknown[]) => {
    note(args[0]);
    return readdir.apply(fsp, args);
  };
  syncBuiltinESMExports();
  try {
    await run();
  } finally {
    for (const [name, fn] of saved) target[name] = fn as (...args: unknown[]) => unknown;
    promises['readdir'] = readdir;
    syncBuiltinESMExports();
  }
  return seen;
}

function cgroupMount(): string | undefined {
  try {
    return new Host({ procfsRoot: '/proc', containerNames: false }).cgroup2Mount().directory;
  } catch {
    return undefined;
  }
}

test('the recorder sees a read of /proc made outside the host layer (control)', async () => {
  const seen = await recordReads(['/proc'], async () => {
    fs.readFileSync(`/proc/${process.ppid}/stat`);
  });
  assert.deepEqual([...seen.keys()], ['(no src frame)']);
});

test('during collection cycles, only src/host/ opens files under the procfs root and the cgroup2 mount', async (t) => {
  const mount = cgroupMount();
  const roots = mount === undefined ? ['/proc'] : ['/proc', mount];
  t.diagnostic(`watching ${roots.join(', ')}`);
  // every family that reads the host: threads with details, smaps, PSI, perf
  const flags = parseFlags(EXPORTER_FLAGS, ['-threads.details', '-gather-smaps', '-collector.psi', '-collector.perf', '-collect.min-interval=0']);
  const log = createLogger({ level: 'error', write: () => {} });
  const pipeline = buildPipeline(exporterSettings(flags, {}), groupingSource(flags).load(), log);
  try {
    const seen = await recordReads(roots, async () => {
      await pipeline.collection.collect();
      await pipeline.collection.collect();
    });
    t.diagnostic(`requesters: ${[...seen.keys()].join(', ')}`);
    assert.ok(seen.size > 0, 'the cycles read the host');
    const outside = [...seen].filter(([who]) => !who.startsWith('host/'));
    assert.deepEqual(outside, [], 'files under the procfs root or the cgroup mount opened outside src/host/ (requester, example path)');
  } finally {
    await pipeline.collection.close();
  }
});

/** `from '...'` specifiers of a source file, resolved to folders of src/ */
function importedFolders(file: string): string[] {
  const text = fs.readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/^(?:import|export)[^'"]*from '(\.[^']+)'/gm)) {
    const resolved = path.relative(SRC, path.resolve(path.dirname(file), m[1] as string));
    out.push(resolved.split(path.sep)[0] as string);
  }
  return out;
}

test('types flow down: host/, tracker/, grouper/, collectors/ and pipeline/ import nothing from the layers above them', () => {
  const above: Record<string, string[]> = {
    tracker: ['grouper', 'collectors', 'pipeline', 'server', 'cli'],
    host: ['tracker', 'grouper', 'collectors', 'pipeline', 'server', 'cli'],
    grouper: ['collectors', 'pipeline', 'server', 'cli'],
    collectors: ['pipeline', 'server', 'cli'],
    pipeline: ['cli'],
  };
  const violations: string[] = [];
  for (const [dir, forbidden] of Object.entries(above)) {
    for (const name of fs.readdirSync(path.join(SRC, dir))) {
      if (!name.endsWith('.ts')) continue;
      for (const folder of importedFolders(path.join(SRC, dir, name))) {
        if (forbidden.includes(folder)) violations.push(`${dir}/${name} imports ${folder}/`);
      }
    }
  }
  assert.deepEqual(violations, []);
});

test('nothing below cli/ reads the environment or the command line: settings come down as one object', () => {
  const readers: string[] = [];
  for (const dir of ['pipeline', 'host', 'tracker', 'grouper', 'collectors', 'server', 'config', 'cgroup', 'procfs', 'perf', 'taskstats']) {
    for (const name of fs.readdirSync(path.join(SRC, dir))) {
      if (name.endsWith('.ts') && /process\.(env|argv)\b/.test(fs.readFileSync(path.join(SRC, dir, name), 'utf8'))) readers.push(`${dir}/${name}`);
    }
  }
  assert.deepEqual(readers, []);
});
