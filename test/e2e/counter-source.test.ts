/**
 * -source end to end: the same exporter run as uid 65534 with and without CAP_NET_ADMIN. With it,
 * auto picks taskstats; without it, auto falls back to the /proc text files with exactly one log
 * line saying why, and serves the same metric families; -source=taskstats refuses to start.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { TaskstatsClient } from '../../src/taskstats/client.js';
import { hasCommand } from '../helpers/namespace.js';
import { repoRoot, startExporter, waitFor } from '../helpers/exporter-process.js';

function skipReason(): string | false {
  if (process.getuid?.() !== 0) return 'needs root to run the exporter with and without CAP_NET_ADMIN';
  if (!hasCommand('setpriv')) return 'setpriv (util-linux) missing';
  try {
    TaskstatsClient.open().close();
  } catch (err) {
    return `taskstats unusable here: ${(err as Error).message}`;
  }
  return false;
}
const skip = skipReason();
if (skip) console.log(`# skipped: ${skip}`);

const FLAGS = ['-collect.min-interval', '0s', '-threads.details'];

/** metric family names of an exposition (from its # TYPE lines) */
function families(text: string): string[] {
  return [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string).sort();
}

async function run(capabilities: string[]): Promise<{ log: string; metrics: string }> {
  const ex = await startExporter(FLAGS, { asNobody: true, capabilities });
  try {
    // two cycles: counters of the second have a baseline
    await ex.scrape();
    const metrics = await waitFor('a second scrape', async () => {
      const r = await ex.scrape();
      return r.status === 200 ? r.text : undefined;
    });
    return { log: ex.log(), metrics };
  } finally {
    await ex.stop();
  }
}

test('auto: taskstats with CAP_NET_ADMIN, else the text files with one log line and the same families', { skip, timeout: 120_000 }, async () => {
  const fast = await run(['net_admin']);
  const slow = await run([]);
  assert.match(fast.metrics, /^procgroup_exporter_source_info\{source="taskstats"\} 1$/m);
  assert.match(slow.metrics, /^procgroup_exporter_source_info\{source="procfs"\} 1$/m);
  const sourceLines = (log: string) => log.split('\n').filter((l) => l.includes('msg="counter source"'));
  assert.equal(sourceLines(fast.log).length, 1, fast.log);
  assert.match(sourceLines(fast.log)[0] as string, /source=taskstats mode=auto/);
  const fallback = sourceLines(slow.log);
  assert.equal(fallback.length, 1, `one line says why:\n${slow.log}`);
  assert.match(fallback[0] as string, /source=procfs mode=auto reason=.*EPERM.*needs CAP_NET_ADMIN/);
  assert.deepEqual(families(fast.metrics), families(slow.metrics));
  assert.ok(families(fast.metrics).includes('namedprocess_namegroup_thread_context_switches_total'), 'thread details are served');
  // the exporter's own group has CPU in both; with taskstats it is not a multiple of 10 ms
  const cpu = (text: string) => [...text.matchAll(/^namedprocess_namegroup_cpu_seconds_total\{[^}]*\} (\S+)$/gm)].map((m) => Number(m[1]));
  assert.ok(cpu(fast.metrics).some((v) => v > 0 && Math.abs(v * 100 - Math.round(v * 100)) > 1e-6), 'microsecond CPU with taskstats');
  assert.ok(cpu(slow.metrics).every((v) => Math.abs(v * 100 - Math.round(v * 100)) < 1e-6), 'whole ticks from stat');
});

test('-source=taskstats without CAP_NET_ADMIN refuses to start, naming the reason', { skip, timeout: 60_000 }, () => {
  const r = spawnSync(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, '--import', 'tsx', 'src/cli/main.ts', 'serve', '-web.listen-address', '127.0.0.1:0', '-source=taskstats'],
    { cwd: repoRoot, encoding: 'utf8', timeout: 50_000 },
  );
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, /msg="cannot use the counter source" source=taskstats err=.*EPERM/);
});
