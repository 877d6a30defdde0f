/**
 * Attack: a config rule with a regex that backtracks exponentially in JavaScript, and an
 * unprivileged process whose argv is built to trigger it (40 'a's then '!'). With a backtracking
 * engine the first cycle that matches the process blocks the event loop for hours; with RE2 the
 * scrape completes and /health keeps answering.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startExporter } from '../helpers/exporter-process.js';
import { find, parseExposition } from '../helpers/exposition.js';
import { percentile, probeSeries } from '../helpers/health-probe.js';

const dir = mkdtempSync(join(tmpdir(), 'pgx-redos-'));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

test('a (a+)+$ rule against an argv of 40 a and ! neither blocks /metrics nor /health', async () => {
  const config = join(dir, 'config.yaml');
  writeFileSync(config, "process_names:\n  - name: evil\n    cmdline: ['(a+)+$']\n");
  // `sh -c 'sleep 30; :' ARG`: ARG is argv[3]; the `; :` keeps sh from exec'ing sleep
  const hostile = spawn('sh', ['-c', 'sleep 30; :', `${'a'.repeat(40)}!`], { stdio: 'ignore' });
  const matching = spawn('sh', ['-c', 'sleep 30; :', 'a'.repeat(40)], { stdio: 'ignore' });
  children.push(hostile, matching);
  const ex = await startExporter(['-config.path', config, '-threads=false', '-recheck', '-collect.min-interval', '0s']);
  try {
    // the baseline cycle has matched both processes once the server answers a scrape
    const scrape = await Promise.race([
      ex.scrape(),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('/metrics did not answer in 20 s')), 20_000)),
    ]);
    assert.equal(scrape.status, 200);
    // the rule is live: the process whose argv ends in a's is in the group, the hostile one is not
    const procs = find(parseExposition(scrape.text), 'namedprocess_namegroup_num_procs', { groupname: 'evil' })[0]?.value;
    assert.ok(procs !== undefined && procs >= 1, `the group "evil" holds the matching process (got ${String(procs)})`);
    // the process lives on, so every later cycle meets it again (-collect.min-interval 0: one per scrape)
    for (let i = 0; i < 3; i++) assert.equal((await ex.scrape()).status, 200);
    const health = await probeSeries(`${ex.url}/health`, 40, 25);
    assert.equal(health.failures, 0, 'every /health probe answered 200 within 2 s');
    console.log(`/health p99 ${percentile(health.latencies, 99).toFixed(1)} ms over ${health.latencies.length} probes`);
  } finally {
    await ex.stop();
  }
});
