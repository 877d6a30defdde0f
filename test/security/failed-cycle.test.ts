/**
 * Attack on visibility: the exporter cannot read /proc. A wrong -procfs stops start-up with a
 * clear message; a cycle that fails at run time shows in that same scrape
 * (procgroup_exporter_scrape_collector_success{collector="walk"} 0, namedprocess_scrape_errors
 * incremented, no group data) and /health turns 503 after -health.max-failed-cycles failures in a row.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot, startExporter } from '../helpers/exporter-process.js';
import { find, parseExposition } from '../helpers/exposition.js';
import { copyProc } from '../helpers/proc-copy.js';
import { namedWorkload, sleep } from '../helpers/workload.js';

function serve(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '-web.listen-address', '127.0.0.1:0', ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
}

test('a -procfs that does not exist, or is not a procfs, stops start-up with exit 1 and says why', () => {
  const missing = serve(['-procfs', '/nonexistent']);
  assert.equal(missing.status, 1, missing.stderr);
  assert.match(missing.stderr, /msg="cannot use the procfs root" err="-procfs \/nonexistent: cannot read the directory: ENOENT"/);
  const empty = mkdtempSync(join(tmpdir(), 'pgx-notproc-'));
  try {
    const r = serve(['-procfs', empty]);
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /not a procfs: cannot read .*\/stat: ENOENT/);
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test('a cycle that fails shows in the same scrape, and /health fails after 3 in a row', { timeout: 120_000 }, async () => {
  const kid = spawn(namedWorkload('pgx-failcyc'), ['threads', '1'], { stdio: 'ignore' });
  await sleep(200);
  const root = copyProc([kid.pid as number]);
  kid.kill('SIGKILL');
  const config = join(tmpdir(), `pgx-failcyc-${process.pid}.yaml`);
  writeFileSync(config, 'process_names:\n  - name: "{{.Comm}}"\n    comm: [pgx-failcyc]\n');
  const ex = await startExporter(['-procfs', root, '-config.path', config, '-collect.min-interval', '0s']);
  const scrape = async () => {
    const r = await ex.scrape();
    assert.equal(r.status, 200);
    const e = parseExposition(r.text);
    return {
      walk: find(e, 'procgroup_exporter_scrape_collector_success', { collector: 'walk' })[0]?.value,
      errors: find(e, 'namedprocess_scrape_errors')[0]?.value,
      procs: find(e, 'namedprocess_namegroup_num_procs', { groupname: 'pgx-failcyc' })[0]?.value,
    };
  };
  const health = async () => (await fetch(`${ex.url}/health`)).status;
  try {
    assert.deepEqual(await scrape(), { walk: 1, errors: 0, procs: 1 });
    renameSync(root, `${root}.gone`);
    assert.deepEqual(await scrape(), { walk: 0, errors: 1, procs: undefined }, 'the failure is in this very scrape');
    assert.equal(await health(), 200, 'one failed cycle is not yet unhealthy');
    assert.deepEqual(await scrape(), { walk: 0, errors: 2, procs: undefined });
    assert.deepEqual(await scrape(), { walk: 0, errors: 3, procs: undefined });
    assert.equal(await health(), 503, 'three failed cycles in a row');
    renameSync(`${root}.gone`, root);
    assert.deepEqual(await scrape(), { walk: 1, errors: 3, procs: 1 }, 'recovered; the error counter keeps its count');
    assert.equal(await health(), 200);
    assert.match(ex.log(), /level=error msg="collection cycle failed"/);
  } finally {
    await ex.stop();
    rmSync(root, { recursive: true, force: true });
    rmSync(`${root}.gone`, { recursive: true, force: true });
    rmSync(config, { force: true });
  }
});
