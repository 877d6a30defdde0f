/**
 * Soak: the exporter (a real child process, root, default flags) scraped every second for 140 s
 * while 200 processes a second start and exit (a third exec /bin/true, a third run two
 * threads) next to processes with hostile names. Bounded to ~2.5 minutes in all.
 *
 * Checks, on every scrape: `promtool check metrics` clean (bar the accepted compatibility lints),
 * no counter series lower than before. A series that vanishes and comes back counts too, unless it
 * was gone longer than the thread-name TTL (40 cycles): per-thread-name accumulators are dropped
 * then to bound memory and restart at 0, which Prometheus reads as an ordinary counter reset.
 * Only the test's own processes are grouped (every other process still costs its stat read each
 * cycle), so what the exporter keeps does not follow whatever else runs on the machine: with a
 * whole-host config, other people's processes and thread names add series, by design.
 * Over the run: the exporter's RSS, live heap and fd count stay flat after a 50 s warm-up, and
 * the state it keeps (tracked + ignored processes) shrinks back once the churn stops.
 *
 * Flat means, comparing the first and the last 20 samples of the 90 s window:
 * - native memory, RSS minus the V8 heap's committed size (`nodejs_heap_size_total_bytes`): the
 *   median grows at most NATIVE_GROWTH_LIMIT. The heap's committed size is left out because V8
 *   resizes it on its own schedule: in a 5.5-minute run of this workload the young generation
 *   went up and down between 1 and 16 MiB and the old generation's committed size from 14 to
 *   20 MiB in the first 140 s while the used heap stayed flat; RSS minus heap stayed within
 *   71 +- 1.5 MiB;
 * - live heap: the lowest `nodejs_heap_size_used_bytes` (what is left after a collection) grows at
 *   most HEAP_GROWTH_LIMIT; a leak of one ~1 KiB record per exited process would add ~18 MiB over
 *   the 18 000 processes started in the window;
 * - RSS itself: at most RSS_GROWTH_LIMIT, the two above plus V8's heap sizing;
 * - fds: never more than FD_SPREAD_LIMIT above the value at the start of the window (listening
 *   socket, one scrape connection, stdio and Node's own), not counting the /proc files held open
 *   between cycles (-procfs.held-files): those follow the number of live processes, which churns;
 *   every one of them must belong to a live process.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startChurn, startOdd } from '../helpers/churn.js';
import { startExporter, waitFor } from '../helpers/exporter-process.js';
import { find, isCounterSample, parseExposition, seriesKey } from '../helpers/exposition.js';
import { promtoolAvailable, promtoolProblems } from '../helpers/promtool.js';

const RATE = 200;
const WARMUP_S = 50;
const MEASURE_S = 90;
const SCRAPE_EVERY_MS = 1000;
const NATIVE_GROWTH_LIMIT = 8 * 1024 * 1024;
const HEAP_GROWTH_LIMIT = 8 * 1024 * 1024;
const RSS_GROWTH_LIMIT = 32 * 1024 * 1024;
const FD_SPREAD_LIMIT = 3;
const WINDOW = 20;
/** setup.ts: threadNameTtlCycles; one cycle per scrape here (-collect.min-interval 0s) */
const THREAD_TTL_CYCLES = 40;

function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1]) * 1024;
}
/** the exporter's fds apart from held /proc files, and the held files whose process is gone */
const fdCount = (pid: number): { fds: number; staleHeld: number } => {
  let other = 0;
  let stale = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue; // closed meanwhile
    }
    const held = /^\/proc\/(\d+)\//.exec(target);
    if (!held) other++;
    else if (!existsSync(`/proc/${held[1]}`)) stale++;
  }
  return { fds: other, staleHeld: stale };
};
const pidCount = () => readdirSync('/proc').filter((d) => /^\d+$/.test(d)).length;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const mib = (b: number) => `${(b / 1048576).toFixed(1)} MiB`;

test('soak: 200 process starts/s for 140 s, scraped every second', { timeout: 240_000 }, async (t) => {
  if (!promtoolAvailable()) {
    t.skip('promtool not installed (apt-get install prometheus): every scrape must be checked by it');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'pgx-soak-'));
  chmodSync(dir, 0o755);
  const marker = `pgx-soak-odd-${process.pid}`;
  const config = join(dir, 'config.yaml');
  writeFileSync(
    config,
    `process_names:\n  - name: churn\n    comm: [pgx-churn]\n  - name: "odd:{{.Comm}}"\n    cmdline: ['${marker}']\n`,
  );
  const odd = await startOdd('pgx-soak-odd', marker);
  const ex = await startExporter(['-config.path', config, '-collect.min-interval', '0s']);
  const churn = startChurn('pgx-churn', RATE, WARMUP_S + MEASURE_S);
  const invalid: string[] = [];
  const decreases: string[] = [];
  /** as root nothing is denied, and a process exiting while read is not an error */
  const readErrors: string[] = [];
  const highest = new Map<string, { value: number; scrape: number }>();
  const samples: { at: number; rss: number; fds: number; staleHeld: number; heap: number; heapTotal: number }[] = [];
  let scrapes = 0;
  let lastCounters = { churnCpu: 0, cycles: 0 };
  try {
    const t0 = Date.now();
    while (Date.now() - t0 < (WARMUP_S + MEASURE_S) * 1000) {
      const tick = Date.now();
      const r = await ex.scrape();
      scrapes++;
      assert.equal(r.status, 200);
      const problems = promtoolProblems(r.text);
      if (problems.length) invalid.push(`scrape ${scrapes}: ${problems.join('; ')}`);
      const e = parseExposition(r.text);
      for (const s of e.samples) {
        if (!isCounterSample(s, e.types)) continue;
        const key = seriesKey(s);
        const before = highest.get(key);
        const expired = before !== undefined && scrapes - before.scrape > THREAD_TTL_CYCLES && s.name.startsWith('namedprocess_namegroup_thread_');
        if (before !== undefined && !expired && s.value < before.value) decreases.push(`scrape ${scrapes}: ${key} ${before.value} -> ${s.value}`);
        highest.set(key, { value: expired ? s.value : Math.max(before?.value ?? -Infinity, s.value), scrape: scrapes });
      }
      for (const name of ['namedprocess_scrape_errors', 'namedprocess_scrape_procread_errors', 'namedprocess_scrape_partial_errors']) {
        const v = find(e, name)[0]?.value;
        if (v !== 0) readErrors.push(`scrape ${scrapes}: ${name} ${String(v)}`);
      }
      lastCounters = {
        churnCpu: find(e, 'namedprocess_namegroup_cpu_seconds_total', { groupname: 'churn' }).reduce((a, s) => a + s.value, 0),
        cycles: find(e, 'procgroup_exporter_collection_cycles_total')[0]?.value ?? 0,
      };
      const heap = find(e, 'nodejs_heap_size_used_bytes')[0]?.value ?? 0;
      const heapTotal = find(e, 'nodejs_heap_size_total_bytes')[0]?.value ?? 0;
      if (tick - t0 >= WARMUP_S * 1000) samples.push({ at: tick - t0, rss: rssBytes(ex.pid), ...fdCount(ex.pid), heap, heapTotal });
      await new Promise((res) => setTimeout(res, Math.max(0, SCRAPE_EVERY_MS - (Date.now() - tick))));
    }
    const started = await churn.started();

    // the churn is over: what the tracker keeps must shrink back to what /proc holds
    const settled = await waitFor('tracker state to follow /proc', async () => {
      const e = parseExposition((await ex.scrape()).text);
      const kept = find(e, 'procgroup_exporter_processes').reduce((a, s) => a + s.value, 0);
      const live = pidCount();
      return kept <= live + 5 ? { kept, live } : undefined;
    });

    const first = samples.slice(0, WINDOW);
    const last = samples.slice(-WINDOW);
    const rssStart = median(first.map((s) => s.rss));
    const rssEnd = median(last.map((s) => s.rss));
    const nativeStart = median(first.map((s) => s.rss - s.heapTotal));
    const nativeEnd = median(last.map((s) => s.rss - s.heapTotal));
    const heapStart = Math.min(...first.map((s) => s.heap));
    const heapEnd = Math.min(...last.map((s) => s.heap));
    const fdStart = first[0]?.fds ?? 0;
    const fdMax = Math.max(...samples.map((s) => s.fds));
    t.diagnostic(
      `${scrapes} scrapes checked by promtool; ${started} processes started (${(started / (WARMUP_S + MEASURE_S)).toFixed(0)}/s); ` +
        `exporter RSS ${mib(rssStart)} -> ${mib(rssEnd)} (min ${mib(Math.min(...samples.map((s) => s.rss)))}, max ${mib(Math.max(...samples.map((s) => s.rss)))}); ` +
        `RSS minus V8 heap ${mib(nativeStart)} -> ${mib(nativeEnd)}; live heap ${mib(heapStart)} -> ${mib(heapEnd)}; ` +
        `fds ${fdStart} -> ${samples.at(-1)?.fds} (max ${fdMax}; held /proc files of gone processes at most ${Math.max(...samples.map((s) => s.staleHeld))}); tracked+ignored ${settled.kept} vs ${settled.live} pids; ` +
        `cycles ${lastCounters.cycles}; churn group CPU ${lastCounters.churnCpu.toFixed(2)} s`,
    );
    t.diagnostic(`RSS/heap committed/heap used every 10 s: ${samples.filter((_s, i) => i % 10 === 0).map((s) => `${mib(s.rss)}/${mib(s.heapTotal)}/${mib(s.heap)}`).join(' ')}`);

    assert.deepEqual(invalid, [], 'every scrape promtool-clean');
    assert.deepEqual(decreases.slice(0, 20), [], 'no counter went down');
    assert.deepEqual(readErrors.slice(0, 5), [], 'no read or cycle errors');
    assert.ok(scrapes >= ((WARMUP_S + MEASURE_S) * 1000) / SCRAPE_EVERY_MS * 0.8, `only ${scrapes} scrapes`);
    assert.ok(started >= RATE * (WARMUP_S + MEASURE_S) * 0.9, `workload started only ${started} processes`);
    assert.ok(lastCounters.churnCpu > 0, 'CPU of the short-lived children reached the churn group');
    assert.ok(nativeEnd - nativeStart <= NATIVE_GROWTH_LIMIT, `RSS minus V8 heap grew ${mib(nativeEnd - nativeStart)} (limit ${mib(NATIVE_GROWTH_LIMIT)})`);
    assert.ok(rssEnd - rssStart <= RSS_GROWTH_LIMIT, `RSS grew ${mib(rssEnd - rssStart)} (limit ${mib(RSS_GROWTH_LIMIT)})`);
    assert.ok(heapEnd - heapStart <= HEAP_GROWTH_LIMIT, `live heap grew ${mib(heapEnd - heapStart)} (limit ${mib(HEAP_GROWTH_LIMIT)})`);
    assert.ok(fdMax - fdStart <= FD_SPREAD_LIMIT, `fd count rose from ${fdStart} to ${fdMax}`);
    // a held file is released the cycle after its process is gone (scrapes are 1 s apart): at most
    // two seconds of exits, three files (stat, status, io) each; a leak would pile up to thousands
    assert.ok(Math.max(...samples.map((s) => s.staleHeld)) <= RATE * 2 * 3, `held /proc files of gone processes: ${samples.map((s) => s.staleHeld).join(' ')}`);
    assert.doesNotMatch(ex.log(), /level=error/, ex.log());
  } finally {
    churn.stop();
    odd.stop();
    await ex.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
