import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, existsSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { exporterCommand, freePort, hasCommand, namespaceSkipReason, runInPidNamespace, sample, scrape } from '../helpers/namespace.js';
import { parseExposition } from '../helpers/exposition.js';
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
  const go = join(dir, 'go');
  const script = `
set -e
for i in 1 2 3; do '${namedWorkload('cmp-threads')}' threads 5 & done
for i in 1 2; do '${namedWorkload('cmp-single')}' threads 1 & done
prometheus-process-exporter -config.path '${config}' -web.listen-address 127.0.0.1:${theirs} 2>/dev/null &
${exporterCommand(['serve', '-config.path', config, '-web.listen-address', `127.0.0.1:${ours}`, '-collect.min-interval', '0s'])} 2>/dev/null &
# the forker starts only once ours has answered: a slow start-up under load must not put it in the
# baseline (a process older than the first cycle is not credited its earlier CPU)
while [ ! -e '${go}' ]; do sleep 0.1; done
WL_OUT='${out}' '${namedWorkload('cmp-forker')}' forker 50 6 8 &
wait
`;
  const ns = runInPidNamespace(script);
  try {
    const theirUrl = `http://127.0.0.1:${theirs}/metrics`;
    const ourUrl = `http://127.0.0.1:${ours}/metrics`;
    await scrape(theirUrl);
    await scrape(ourUrl);
    writeFileSync(go, '');
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

/** series of `namedprocess_namegroup_*` families of the given groups, keyed by name and sorted labels */
function groupSeries(text: string, groups: readonly string[]): { types: Map<string, string>; series: Map<string, number> } {
  const { samples, types } = parseExposition(text);
  const series = new Map<string, number>();
  for (const s of samples) {
    if (!s.name.startsWith('namedprocess_namegroup_') || !groups.includes(s.labels.groupname ?? '')) continue;
    const labels = Object.keys(s.labels)
      .sort()
      .map((k) => `${k}=${JSON.stringify(s.labels[k])}`)
      .join(',');
    series.set(`${s.name}{${labels}}`, s.value);
  }
  return { types, series };
}

const familyOf = (key: string) => key.slice(0, key.indexOf('{'));
const labelOf = (key: string, label: string) => new RegExp(`[{,]${label}="([^"]*)"`).exec(key)?.[1];

/** Gauges that are counts of processes, threads or fds: equal. */
const EXACT_GAUGES = new Set(['num_procs', 'num_threads', 'thread_count', 'open_filedesc', 'worst_fd_ratio', 'oldest_start_time_seconds', 'states', 'threads_wchan'].map((n) => `namedprocess_namegroup_${n}`));

test('every family process-exporter emits, with the same series and values per group: busy threads, I/O threads, sleepers', { skip, timeout: 180_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'compare-all-'));
  const config = join(dir, 'config.yaml');
  writeFileSync(config, 'process_names:\n  - name: "{{.Comm}}"\n    comm: [cmp-busy, cmp-io, cmp-sleepy, cmp-lone]\n');
  // busy: threads switching both ways (sleeps, preemption) on every thread; io: storage reads
  // and writes from every thread; sleepy/lone: stable states and wchans to compare exactly
  const idle = ['cmp-sleepy', 'cmp-lone'];
  const groups = ['cmp-busy', 'cmp-io', ...idle];
  const [theirs, ours, compat] = [await freePort(), await freePort(), await freePort()];
  const script = `
set -e
'${namedWorkload('cmp-busy')}' busythreads 4 &
'${namedWorkload('cmp-io')}' iothreads 3 '${dir}' &
for i in 1 2; do '${namedWorkload('cmp-sleepy')}' threads 5 & done
for i in 1 2; do '${namedWorkload('cmp-lone')}' threads 1 & done
sleep 0.5
prometheus-process-exporter -config.path '${config}' -web.listen-address 127.0.0.1:${theirs} 2>/dev/null &
${exporterCommand(['serve', '-config.path', config, '-web.listen-address', `127.0.0.1:${ours}`, '-collect.min-interval', '0s'])} 2>/dev/null &
${exporterCommand(['serve', '-compat=process-exporter', '-config.path', config, '-web.listen-address', `127.0.0.1:${compat}`, '-collect.min-interval', '0s'])} 2>/dev/null &
wait
`;
  const ns = runInPidNamespace(script);
  try {
    const urls = [theirs, ours, compat].map((p) => `http://127.0.0.1:${p}/metrics`);
    // all three at once, so that the counters cover the same window
    const scrapeAll = () => Promise.all(urls.map((u) => scrape(u))).then((texts) => texts.map((x) => groupSeries(x, groups)));
    // two exporters compiling TypeScript at once start slowly on a busy machine
    for (const u of urls) await scrape(u, 90_000);
    await sleep(2000);
    const [a0, b0, c0] = await scrapeAll();
    await sleep(10_000);
    const [a1, b1, c1] = await scrapeAll();
    if (!a0 || !b0 || !c0 || !a1 || !b1 || !c1) throw new Error('missing scrape');

    const theirFamilies = [...a1.types.keys()].filter((f) => f.startsWith('namedprocess_'));
    assert.ok(theirFamilies.length >= 23, `process-exporter families: ${theirFamilies.join(' ')}`);
    // with the same (default) flags: every family but the wchan one, which is off by default
    const wchanFamily = 'namedprocess_namegroup_threads_wchan';
    assert.deepEqual(
      theirFamilies.filter((f) => !b1.types.has(f)),
      [wchanFamily],
      'families process-exporter emits and this exporter does not with default flags',
    );
    assert.deepEqual(theirFamilies.filter((f) => !c1.types.has(f)), [], 'families missing under -compat=process-exporter');
    for (const f of theirFamilies) assert.equal(c1.types.get(f), a1.types.get(f), `TYPE of ${f}`);

    // the same series (names and label sets); wchans of busy threads change from one instant to the next
    const volatile = (key: string) => familyOf(key) === wchanFamily && !idle.includes(labelOf(key, 'groupname') ?? '');
    const keys = (m: Map<string, number>) => [...m.keys()].filter((k) => !volatile(k)).sort();
    assert.deepEqual(keys(c1.series), keys(a1.series), 'series under -compat=process-exporter');
    // io threads sleep 50 ms per round: at one of two instants at least one of them waits
    const waits = (x: typeof c1) => [...x.series.keys()].some((k) => familyOf(k) === wchanFamily && labelOf(k, 'groupname') === 'cmp-io');
    assert.ok(waits(c0) || waits(c1), 'cmp-io: threads_wchan series for its sleeping threads');
    // default flags: documented differences only (no wchan, no smaps memory, single-threaded
    // processes in the thread rows, states count processes, this exporter's own families)
    const documented = (key: string) =>
      !theirFamilies.includes(familyOf(key)) ||
      familyOf(key) === wchanFamily || /memtype="proportional/.test(key) || familyOf(key) === 'namedprocess_namegroup_states' || (familyOf(key).startsWith('namedprocess_namegroup_thread_') && labelOf(key, 'groupname') === 'cmp-lone');
    assert.deepEqual(
      keys(b1.series).filter((k) => !documented(k)),
      keys(a1.series).filter((k) => !documented(k)),
      'series with default flags',
    );
    assert.equal(b1.series.get('namedprocess_namegroup_states{groupname="cmp-sleepy",state="Sleeping"}'), 2, 'default: states count processes');
    assert.equal(b1.series.get('namedprocess_namegroup_thread_count{groupname="cmp-lone",threadname="cmp-lone"}'), 2, 'default: single-threaded processes have thread rows');

    const compare = (label: string, x0: typeof a0, x1: typeof a1, y0: typeof a0, y1: typeof a1, only: (key: string) => boolean) => {
      let compared = 0;
      for (const [key, theirValue] of x1.series) {
        if (volatile(key) || !only(key)) continue;
        const family = familyOf(key);
        const ourValue = y1.series.get(key);
        assert.notEqual(ourValue, undefined, `${label}: ${key} missing`);
        const type = x1.types.get(family);
        const group = labelOf(key, 'groupname') ?? '';
        if (type === 'counter') {
          // over the same window: within 5 %, plus one tick per thread of the group for CPU
          const theirs = theirValue - (x0.series.get(key) ?? 0);
          const mine = (ourValue ?? 0) - (y0.series.get(key) ?? 0);
          const slack = family.includes('cpu_seconds') ? 0.01 * 5 : 0;
          t.diagnostic(`${label} ${key}: +${mine} vs process-exporter +${theirs}`);
          assert.ok(Math.abs(mine - theirs) <= 0.05 * Math.max(mine, theirs) + slack, `${label}: ${key} grew by ${mine}, process-exporter's by ${theirs}`);
        } else if (family === 'namedprocess_namegroup_states' && !idle.includes(group)) {
          // busy threads change state between two reads: compare the group's total
          continue;
        } else if (family === 'namedprocess_namegroup_oldest_start_time_seconds' && label === 'default') {
          // default flags keep starttime's 10 ms; process-exporter truncates to whole seconds
          assert.equal(Math.floor(ourValue ?? NaN), theirValue, `${label}: ${key}`);
        } else if (EXACT_GAUGES.has(family)) {
          assert.equal(ourValue, theirValue, `${label}: ${key}`);
        } else {
          assert.ok(Math.abs((ourValue ?? 0) - theirValue) <= 0.05 * theirValue, `${label}: ${key} = ${ourValue}, process-exporter ${theirValue}`);
        }
        compared++;
      }
      return compared;
    };
    const stateTotal = (x: typeof a1, g: string) => [...x.series].filter(([k]) => familyOf(k) === 'namedprocess_namegroup_states' && labelOf(k, 'groupname') === g).reduce((s, [, v]) => s + v, 0);
    for (const g of ['cmp-busy', 'cmp-io']) assert.equal(stateTotal(c1, g), stateTotal(a1, g), `${g}: states under -compat count the process and each of its threads`);
    const n = compare('compat', a0, a1, c0, c1, () => true);
    compare('default', a0, a1, b0, b1, (k) => !documented(k));
    t.diagnostic(`${n} series compared`);
    // the windows really had work in them: a check that cannot pass on idle workloads
    const grew = (name: string) => (c1.series.get(name) ?? 0) - (c0.series.get(name) ?? 0);
    assert.ok(grew('namedprocess_namegroup_context_switches_total{ctxswitchtype="voluntary",groupname="cmp-busy"}') > 200);
    assert.ok(grew('namedprocess_namegroup_thread_io_bytes_total{groupname="cmp-io",iomode="write",threadname="cmp-io"}') > 1e6);
    assert.ok(grew('namedprocess_namegroup_read_bytes_total{groupname="cmp-io"}') > 1e6);
  } finally {
    await ns.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
