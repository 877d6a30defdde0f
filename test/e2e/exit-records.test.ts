import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ExitListener } from '../../src/taskstats/exit-listener.js';
import { NetlinkError } from '../../src/taskstats/netlink-socket.js';
import { startChurn } from '../helpers/churn.js';
import { startExporter } from '../helpers/exporter-process.js';
import { find, isCounterSample, parseExposition, seriesKey } from '../helpers/exposition.js';
import { promtoolAvailable, promtoolProblems } from '../helpers/promtool.js';

/**
 * The exporter with exit records (on the host's /proc, as with hostPID) under 300 process exits a
 * second for 10 s, scraped every second: every scrape promtool-clean, no counter goes down, and
 * the churn shows in processes_started_total / processes_exited_total.
 */
const RATE = 300;
const SECONDS = 10;

function skipReason(): string | undefined {
  if (!promtoolAvailable()) return 'promtool not installed (apt-get install prometheus)';
  if (process.getuid?.() !== 0) return 'needs root (CAP_NET_ADMIN) for the taskstats exit listener';
  try {
    ExitListener.open({ drainIntervalMs: 0 }).close();
  } catch (err) {
    if (err instanceof NetlinkError) return `no taskstats exit records here: ${err.message}`;
    throw err;
  }
  return undefined;
}

test(`exit records: ${RATE} exits/s for ${SECONDS} s scraped every second, promtool-clean, no counter decreases`, { timeout: 90_000 }, async (t) => {
  const skip = skipReason();
  if (skip) return t.skip(skip);
  const dir = mkdtempSync(join(tmpdir(), 'pgx-exit-records-'));
  const config = join(dir, 'config.yaml');
  writeFileSync(config, 'process_names:\n  - name: churn\n    comm: [pgx-er-churn]\n');
  const ex = await startExporter(['-config.path', config, '-collect.min-interval', '0s']);
  const churn = startChurn('pgx-er-churn', RATE, SECONDS);
  const invalid: string[] = [];
  const decreases: string[] = [];
  const highest = new Map<string, number>();
  let last = parseExposition('');
  let scrapes = 0;
  try {
    const t0 = Date.now();
    while (Date.now() - t0 < (SECONDS + 2) * 1000) {
      const tick = Date.now();
      const r = await ex.scrape();
      assert.equal(r.status, 200);
      scrapes++;
      const problems = promtoolProblems(r.text);
      if (problems.length) invalid.push(`scrape ${scrapes}: ${problems.join('; ')}`);
      last = parseExposition(r.text);
      for (const s of last.samples) {
        if (!isCounterSample(s, last.types)) continue;
        const key = seriesKey(s);
        const before = highest.get(key);
        if (before !== undefined && s.value < before) decreases.push(`scrape ${scrapes}: ${key} ${before} -> ${s.value}`);
        highest.set(key, Math.max(before ?? -Infinity, s.value));
      }
      await new Promise((res) => setTimeout(res, Math.max(0, 1000 - (Date.now() - tick))));
    }
    const started = await churn.started();
    const one = (name: string) => find(last, name, { groupname: 'churn' })[0]?.value ?? 0;
    const received = find(last, 'procgroup_exporter_exit_records_received_total')[0]?.value ?? 0;
    const lost = find(last, 'procgroup_exporter_exit_records_lost_total')[0]?.value ?? NaN;
    t.diagnostic(
      `${scrapes} scrapes; churn started ${started}; group started ${one('namedprocess_namegroup_processes_started_total')}, exited ${one('namedprocess_namegroup_processes_exited_total')}; records received ${received}, lost ${lost}`,
    );
    assert.deepEqual(invalid, [], 'every scrape promtool-clean');
    assert.deepEqual(decreases.slice(0, 20), [], 'no counter went down');
    assert.equal(lost, 0, 'nothing lost at this rate');
    assert.ok(received >= started, `a record for every exit: ${received} received, ${started} started`);
    // the churn's children exit (a third exec /bin/true, whose comm no rule names: they join through the parent)
    assert.ok(one('namedprocess_namegroup_processes_exited_total') >= 0.95 * started, 'exits per group follow the churn');
    assert.ok(one('namedprocess_namegroup_processes_started_total') >= 0.95 * started, 'starts per group follow the churn');
    assert.ok(find(last, 'namedprocess_namegroup_delay_seconds_total', { groupname: 'churn', kind: 'cpu' }).length === 1, 'run-queue delay per group');
  } finally {
    churn.stop();
    await ex.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
