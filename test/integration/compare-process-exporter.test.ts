import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { exporterCommand, freePort, hasCommand, namespaceSkipReason, runInPidNamespace, sample, scrape } from '../helpers/namespace.js';
import { namedWorkload, sleep } from '../helpers/workload.js';

/**
 * Drop-in check: prometheus-process-exporter 0.7.10 (Debian) and this exporter read the same
 * config over the same process tree, in a PID namespace so the tree is exactly the test's.
 */
const skip = namespaceSkipReason() ?? (hasCommand('prometheus-process-exporter') ? undefined : 'prometheus-process-exporter not installed (apt-get install prometheus-process-exporter)');
if (skip) console.log(`# skipped: ${skip}`);

test('same groups, num_procs, num_threads and memory as process-exporter; CPU of short children kept', { skip, timeout: 90_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'compare-'));
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `process_names:
  - name: "{{.Comm}}"
    comm: [cmp-threads, cmp-single]
  - name: "forker"
    comm: [cmp-forker]
`,
  );
  const [theirs, ours] = [await freePort(), await freePort()];
  const out = join(dir, 'forker.out');
  const script = `
set -e
for i in 1 2 3; do '${namedWorkload('cmp-threads')}' threads 5 & done
for i in 1 2; do '${namedWorkload('cmp-single')}' threads 1 & done
prometheus-process-exporter -config.path '${config}' -web.listen-address 127.0.0.1:${theirs} 2>/dev/null &
${exporterCommand(['serve', '-config.path', config, '-web.listen-address', `127.0.0.1:${ours}`, '-collect.min-interval', '0s'])} 2>/dev/null &
sleep 4
WL_OUT='${out}' '${namedWorkload('cmp-forker')}' forker 50 6 8 &
wait
`;
  const ns = runInPidNamespace(script);
  try {
    const theirUrl = `http://127.0.0.1:${theirs}/metrics`;
    const ourUrl = `http://127.0.0.1:${ours}/metrics`;
    await scrape(theirUrl);
    await scrape(ourUrl);
    await sleep(4500); // forker started; both have seen it
    const [a0, b0] = [await scrape(theirUrl), await scrape(ourUrl)];

    for (const group of ['cmp-threads', 'cmp-single']) {
      const l = { groupname: group };
      assert.equal(sample(b0, 'namedprocess_namegroup_num_procs', l), sample(a0, 'namedprocess_namegroup_num_procs', l), `${group} num_procs`);
      assert.equal(sample(b0, 'namedprocess_namegroup_num_threads', l), sample(a0, 'namedprocess_namegroup_num_threads', l), `${group} num_threads`);
      for (const memtype of ['resident', 'virtual']) {
        const ourMem = sample(b0, 'namedprocess_namegroup_memory_bytes', { ...l, memtype }) ?? NaN;
        const theirMem = sample(a0, 'namedprocess_namegroup_memory_bytes', { ...l, memtype }) ?? NaN;
        assert.ok(Math.abs(ourMem - theirMem) <= 0.05 * theirMem, `${group} ${memtype}: ours ${ourMem}, theirs ${theirMem}`);
      }
    }
    const threads = { groupname: 'cmp-threads', threadname: 'cmp-threads' };
    assert.equal(sample(b0, 'namedprocess_namegroup_thread_count', threads), sample(a0, 'namedprocess_namegroup_thread_count', threads));
    // process-exporter 0.7.10 leaves single-threaded processes out of the thread metrics; we do not
    assert.equal(sample(a0, 'namedprocess_namegroup_thread_count', { groupname: 'cmp-single' }), undefined);
    assert.equal(sample(b0, 'namedprocess_namegroup_thread_count', { groupname: 'cmp-single', threadname: 'cmp-single' }), 2);
    assert.equal(sample(b0, 'namedprocess_namegroup_num_procs', { groupname: 'cmp-threads' }), 3);
    assert.equal(sample(b0, 'namedprocess_namegroup_num_threads', { groupname: 'cmp-threads' }), 15);

    const cpu = (text: string) =>
      (sample(text, 'namedprocess_namegroup_cpu_seconds_total', { groupname: 'forker', mode: 'user' }) ?? 0) +
      (sample(text, 'namedprocess_namegroup_cpu_seconds_total', { groupname: 'forker', mode: 'system' }) ?? 0);
    while (!existsSync(out)) await sleep(200);
    const truth = Number(readFileSync(out, 'utf8'));
    const [a1, b1] = [await scrape(theirUrl), await scrape(ourUrl)];
    const ourCpu = cpu(b1);
    const theirCpu = cpu(a1) - cpu(a0);
    t.diagnostic(`forker (50 children/s x 6 ms for 8 s): workload ${truth.toFixed(2)} s, ours ${ourCpu.toFixed(2)} s, process-exporter ${theirCpu.toFixed(2)} s (since it first saw the group)`);
    assert.ok(Math.abs(ourCpu - truth) < 0.03 * truth, `ours ${ourCpu} vs ${truth}`);
  } finally {
    await ns.stop();
  }
});
