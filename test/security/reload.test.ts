/**
 * Attack: reset every counter with one POST /-/reload from any pod. Reload over HTTP needs
 * -web.enable-lifecycle (403 without, as Prometheus); SIGHUP always reloads; a reload, even one
 * that changes the grouping, keeps the counters of every group whose name survives.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { type ExporterProcess, startExporter, waitFor } from '../helpers/exporter-process.js';
import { find, parseExposition } from '../helpers/exposition.js';
import { namedWorkload } from '../helpers/workload.js';

const dir = mkdtempSync(join(tmpdir(), 'pgx-sec-reload-'));
const config = join(dir, 'config.yaml');
const kids: ChildProcess[] = [];
after(() => {
  for (const k of kids) k.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const BEFORE = 'process_names:\n  - name: busy\n    comm: [pgx-rl-busy]\n  - name: idle\n    comm: [pgx-rl-idle]\n';
// the grouping changes: "idle" is renamed, a group is added; "busy" survives
const AFTER = 'process_names:\n  - name: busy\n    comm: [pgx-rl-busy]\n  - name: idle2\n    comm: [pgx-rl-idle]\n  - name: none\n    comm: [pgx-rl-none]\n';

async function read(ex: ExporterProcess) {
  const r = await ex.scrape('/metrics', { headers: { 'User-Agent': `probe-${Math.random()}` } });
  assert.equal(r.status, 200);
  const e = parseExposition(r.text);
  const cpu = find(e, 'namedprocess_namegroup_cpu_seconds_total', { groupname: 'busy' }).reduce((a, s) => a + s.value, 0);
  const groups = new Set(find(e, 'namedprocess_namegroup_num_procs').map((s) => s.labels.groupname));
  const reloadTime = find(e, 'procgroup_exporter_config_last_reload_success_timestamp_seconds')[0]?.value ?? 0;
  return { cpu, groups, reloadTime };
}

function startWorkloads(): void {
  if (kids.length) return;
  // niced: the test needs CPU seconds to accumulate, not to take a core from anyone
  kids.push(spawn('nice', ['-n', '19', namedWorkload('pgx-rl-busy'), 'busy'], { stdio: 'ignore' }));
  kids.push(spawn(namedWorkload('pgx-rl-idle'), ['threads', '1'], { stdio: 'ignore' }));
}

test('POST /-/reload is refused (403) without -web.enable-lifecycle; SIGHUP reloads and keeps the counters', { timeout: 120_000 }, async () => {
  startWorkloads();
  writeFileSync(config, BEFORE);
  const ex = await startExporter(['-config.path', config, '-collect.min-interval', '0s']);
  try {
    const first = await waitFor('0.2 s of busy CPU', async () => {
      const s = await read(ex);
      return s.cpu >= 0.2 ? s : undefined;
    }, 60_000);
    writeFileSync(config, AFTER);
    const post = await ex.scrape('/-/reload', { method: 'POST' });
    assert.equal(post.status, 403);
    assert.equal(post.text, 'Lifecycle API is not enabled.\n');
    const still = await read(ex);
    assert.ok(still.groups.has('idle') && !still.groups.has('idle2'), 'the POST changed nothing');
    assert.ok(still.cpu >= first.cpu);

    ex.child.kill('SIGHUP');
    const reloaded = await waitFor('the SIGHUP reload', async () => {
      const s = await read(ex);
      return s.reloadTime > first.reloadTime && s.groups.has('idle2') ? s : undefined;
    });
    assert.ok(reloaded.cpu >= still.cpu, `busy CPU kept across the reload: ${still.cpu} s before, ${reloaded.cpu} s after`);
    assert.ok(!reloaded.groups.has('idle'), 'the renamed group is gone');
  } finally {
    await ex.stop();
  }
});

test('with -web.enable-lifecycle, POST /-/reload reloads and keeps the counters of surviving groups', { timeout: 120_000 }, async () => {
  startWorkloads();
  writeFileSync(config, BEFORE);
  const ex = await startExporter(['-config.path', config, '-collect.min-interval', '0s', '-web.enable-lifecycle']);
  try {
    const first = await waitFor('0.2 s of busy CPU', async () => {
      const s = await read(ex);
      return s.cpu >= 0.2 ? s : undefined;
    }, 60_000);
    writeFileSync(config, AFTER);
    const post = await ex.scrape('/-/reload', { method: 'POST' });
    assert.equal(post.status, 200);
    const reloaded = await read(ex);
    assert.ok(reloaded.groups.has('idle2') && !reloaded.groups.has('idle'));
    assert.ok(reloaded.cpu >= first.cpu, `busy CPU kept across the reload: ${first.cpu} s before, ${reloaded.cpu} s after`);
  } finally {
    await ex.stop();
  }
});
