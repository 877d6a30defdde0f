/**
 * Thread-name cardinality on a real process: 1,000 threads named worker-<n> (real /proc, the real
 * pipeline that `serve` builds) make one series set, not a thousand.
 */
import assert from 'node:assert/strict';
import { readdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { exporterFlags } from '../../../src/cli/serve.js';
import { exporterSettings, groupingSource } from '../../../src/cli/exporter-flags.js';
import { baseRegistry, buildPipeline, collectOnce } from '../../../src/pipeline/setup.js';
import { createLogger } from '../../../src/log.js';
import { parseExposition, type Sample } from '../../helpers/exposition.js';
import { sleep, startWorkload, type Workload } from '../../helpers/workload.js';

const THREADS = 1000;
let dir: string;
let workers: Workload;
let plain: Workload;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'pge-threadcard-'));
  workers = startWorkload('card-workers', ['named-threads', String(THREADS + 1), 'worker-']);
  plain = startWorkload('card-plain', ['named-threads', '4', 'io-']);
  const pid = workers.child.pid as number;
  for (let i = 0; readdirSync(`/proc/${pid}/task`).length < THREADS + 1; i++) {
    if (i > 400) throw new Error('workload did not start its threads');
    await sleep(50);
  }
  await sleep(200); // each thread names itself right after it starts
});

after(async () => {
  workers.stop();
  plain.stop();
  await rm(dir, { recursive: true, force: true });
});

/** One `once`-style scrape with this config and these flags, parsed. */
async function scrape(config: string, flags: string[]): Promise<Sample[]> {
  const file = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, config);
  const f = exporterFlags(['-config.path', file, '-collect.min-interval=0s', ...flags], {});
  const pipeline = buildPipeline(exporterSettings(f, {}), groupingSource(f).load(), createLogger({ level: 'error' }));
  try {
    return parseExposition(await collectOnce(pipeline, baseRegistry().registry, 10)).samples;
  } finally {
    await pipeline.collection.close();
  }
}

const CONFIG = 'process_names:\n  - comm: [card-workers]\n    name: workers\n  - comm: [card-plain]\n    name: plain\n';

function threadCounts(samples: Sample[], group: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const s of samples) {
    if (s.name === 'namedprocess_namegroup_thread_count' && s.labels.groupname === group) out.set(s.labels.threadname ?? '', s.value);
  }
  return out;
}

test('default: 1,000 threads named worker-<n> are one series set, worker-N, counting all of them', async () => {
  const samples = await scrape(CONFIG, []);
  assert.deepEqual(threadCounts(samples, 'workers'), new Map([['card-workers', 1], ['worker-N', THREADS]]));
  assert.equal(samples.filter((s) => s.name === 'namedprocess_namegroup_thread_cpu_seconds_total' && s.labels.groupname === 'workers').length, 4, '2 names x 2 modes');
  // procgroup_exporter_series tells the cost of each family, matching what is exported
  const threadCountSeries = samples.filter((s) => s.name === 'namedprocess_namegroup_thread_count').length;
  const reported = samples.find((s) => s.name === 'procgroup_exporter_series' && s.labels.family === 'namedprocess_namegroup_thread_count');
  assert.equal(reported?.value, threadCountSeries);
});

test('without normalization the per-group cap folds names beyond it into "other"', async () => {
  const samples = await scrape(CONFIG, ['-threads.normalize-names=false', '-threads.max-names=10']);
  const counts = threadCounts(samples, 'workers');
  assert.equal(counts.size, 11, '10 names + other');
  const sum = [...counts.values()].reduce((a, b) => a + b, 0);
  assert.equal(sum, THREADS + 1, 'every thread is still counted');
  assert.equal(counts.get('other'), THREADS + 1 - 10);
  // the other group is under the cap: its names are untouched
  assert.deepEqual(threadCounts(samples, 'plain'), new Map([['card-plain', 1], ['io-1', 1], ['io-2', 1], ['io-3', 1]]));
});

test('process-exporter parity (-threads.normalize-names=false -threads.max-names=0): one series set per name', async () => {
  const samples = await scrape(CONFIG, ['-threads.normalize-names=false', '-threads.max-names=0']);
  assert.equal(threadCounts(samples, 'workers').size, THREADS + 1);
});

test('per-rule threads: false drops the thread families of that group only; threads: true keeps them under -threads=false', async () => {
  const off = await scrape('process_names:\n  - comm: [card-workers]\n    name: workers\n    threads: false\n  - comm: [card-plain]\n    name: plain\n', []);
  assert.equal(threadCounts(off, 'workers').size, 0);
  assert.equal(threadCounts(off, 'plain').size, 2, 'card-plain and io-N');
  assert.equal(off.find((s) => s.name === 'namedprocess_namegroup_num_threads' && s.labels.groupname === 'workers')?.value, THREADS + 1, 'the group gauge still counts threads');

  const on = await scrape('process_names:\n  - comm: [card-workers]\n    name: workers\n  - comm: [card-plain]\n    name: plain\n    threads: true\n', ['-threads=false']);
  assert.equal(threadCounts(on, 'workers').size, 0);
  assert.deepEqual(threadCounts(on, 'plain'), new Map([['card-plain', 1], ['io-N', 3]]));
});
