/**
 * The exporter as a real process against real /proc, with processes whose comm and thread names
 * hold newline, ')', quotes, backslash, tab, invalid UTF-8 or nothing, a zombie, and (second
 * test) without privileges: scrapes stay valid (promtool), names come out as written.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { startOdd, type OddProcesses } from '../helpers/churn.js';
import { type ExporterProcess, startExporter, waitFor } from '../helpers/exporter-process.js';
import { find, parseExposition } from '../helpers/exposition.js';
import { promtoolAvailable, promtoolProblems } from '../helpers/promtool.js';

const marker = `pgx-odd-${process.pid}`;
let odd: OddProcesses;
let dir: string;
let config: string;

/** comm as the kernel holds it (bytes), decoded the way the exporter decodes it */
const ODD_COMMS = [
  Buffer.from('a\nb) (c'),
  Buffer.from('q"uo\\te'),
  Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(' bad utf8')]),
  Buffer.from(') S 1 2 3 4'),
  Buffer.from(''),
  Buffer.from('tab\there'),
  Buffer.from([0xc3, 0xbc, 0x6e, 0x69, 0x63, 0xc3, 0xb6, 0x64, 0x65, 0xe2, 0x82]),
  Buffer.from('threads)\n'),
].map((b) => `odd:${b.toString('utf8')}`);

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pgx-robust-'));
  // world-readable: the unprivileged run reads it too
  chmodSync(dir, 0o755);
  config = join(dir, 'config.yaml');
  writeFileSync(config, `process_names:\n  - name: "odd:{{.Comm}}"\n    cmdline: ['${marker}']\n  - name: "{{.Comm}}"\n    ppid: 1\n  - name: kernel\n    pid: 2\n`, { mode: 0o644 });
  odd = await startOdd('pgx-odd', marker);
});
after(() => {
  odd?.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function scrapeValid(ex: ExporterProcess): Promise<ReturnType<typeof parseExposition>> {
  const r = await ex.scrape();
  assert.equal(r.status, 200, r.text);
  if (promtoolAvailable()) assert.deepEqual(promtoolProblems(r.text), []);
  else process.stdout.write('# promtool not installed: exposition checked by the test parser only\n');
  return parseExposition(r.text);
}

// names as written: digit-run normalization off, or 'th)\n0' would be exported as 'th)\nN'
test('hostile comm and thread names, a zombie and kernel threads: valid exposition, names as written', async () => {
  const ex = await startExporter(['-config.path', config, '-collect.min-interval', '0s', '-threads.normalize-names=false']);
  try {
    const e = await waitFor('odd groups', async () => {
      const x = await scrapeValid(ex);
      return find(x, 'namedprocess_namegroup_num_procs', { groupname: 'odd:pgx-odd' }).length ? x : undefined;
    });
    const groups = new Set(find(e, 'namedprocess_namegroup_num_procs').map((s) => s.labels.groupname));
    for (const name of ODD_COMMS) assert.ok(groups.has(name), `group ${JSON.stringify(name)} missing; have ${JSON.stringify([...groups].filter((g) => g?.startsWith('odd:')))}`);
    // the zombie (empty cmdline, so unmatched) joins its parent's group through -children
    assert.equal(find(e, 'namedprocess_namegroup_states', { groupname: 'odd:pgx-odd', state: 'Zombie' })[0]?.value, 1);
    assert.equal(find(e, 'namedprocess_namegroup_num_threads', { groupname: 'odd:threads)\n' })[0]?.value, 4);
    const threadNames = new Set(find(e, 'namedprocess_namegroup_thread_count', { groupname: 'odd:threads)\n' }).map((s) => s.labels.threadname));
    for (const t of ['threads)\n', 'th)\n0', 'th\ufffd1', 'th\ufffd2']) assert.ok(threadNames.has(t), `thread ${JSON.stringify(t)} missing: ${JSON.stringify([...threadNames])}`);
    assert.ok((find(e, 'namedprocess_namegroup_num_procs', { groupname: 'kernel' })[0]?.value ?? 0) > 1, 'kernel threads fold into pid 2');
    assert.equal(find(e, 'namedprocess_scrape_errors')[0]?.value, 0);
    assert.equal(find(e, 'namedprocess_scrape_procread_errors')[0]?.value, 0);
    // the OpenMetrics rendering of the same names is accepted too
    const om = await ex.scrape('/metrics', { headers: { Accept: 'application/openmetrics-text; version=1.0.0' } });
    assert.equal(om.status, 200);
    assert.ok(om.text.includes('groupname="odd:a\\nb) (c"'));
    assert.ok(om.text.includes('groupname="odd:q\\"uo\\\\te"'));
  } finally {
    assert.equal(await ex.stop(), 0, ex.log());
  }
  assert.doesNotMatch(ex.log(), /level=error/);
});

test('unprivileged (uid 65534, no capabilities): serves reduced data, counts denied reads per cause, nothing fatal', async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('needs root to drop to uid 65534 with setpriv');
    return;
  }
  const ex = await startExporter(['-config.path', config, '-collect.min-interval', '0s', '-threads.details'], { asNobody: true });
  try {
    const status = readFileSync(`/proc/${ex.pid}/status`, 'utf8');
    assert.match(status, /^Uid:\s+65534\s+65534\s+65534\s+65534$/m);
    assert.match(status, /^CapEff:\s+0+$/m);
    const first = await scrapeValid(ex);
    const second = await waitFor('a second cycle', async () => {
      const x = await scrapeValid(ex);
      return (find(x, 'procgroup_exporter_collection_cycles_total')[0]?.value ?? 0) >= 3 ? x : undefined;
    });
    for (const e of [first, second]) {
      const groups = new Set(find(e, 'namedprocess_namegroup_num_procs').map((s) => s.labels.groupname));
      for (const name of ODD_COMMS) assert.ok(groups.has(name), `group ${JSON.stringify(name)} missing as nobody`);
      assert.equal(find(e, 'namedprocess_scrape_errors')[0]?.value, 0, 'no cycle failed');
    }
    // /proc/<pid>/io of other users needs ptrace access: denied, counted, per file and errno
    const denied = find(second, 'procgroup_exporter_read_errors_total', { file: 'io', errno: 'EACCES' })[0]?.value ?? 0;
    assert.ok(denied > 0, 'io:EACCES counted');
    assert.ok((find(second, 'namedprocess_scrape_partial_errors')[0]?.value ?? 0) >= denied);
    const causes = find(second, 'procgroup_exporter_read_errors_total').map((s) => `${s.labels.file}:${s.labels.errno}`);
    assert.ok(causes.every((c) => /^[a-z_]+:E[A-Z]+$/.test(c)), JSON.stringify(causes));
    // what stat and status give (CPU, memory, threads) is still there for root's processes
    assert.ok((find(second, 'namedprocess_namegroup_memory_bytes', { groupname: 'odd:a\nb) (c', memtype: 'resident' })[0]?.value ?? 0) > 0);
    assert.ok(find(second, 'namedprocess_namegroup_cpu_seconds_total', { groupname: 'kernel' }).length === 2);
    const health = await ex.scrape('/health');
    assert.equal(health.status, 200);
  } finally {
    assert.equal(await ex.stop(), 0, ex.log());
  }
  assert.doesNotMatch(ex.log(), /level=error/, ex.log());
});

test('least privileges: uid 65534 with CAP_SYS_PTRACE and CAP_DAC_READ_SEARCH reads io, smaps_rollup and thread io of another user; without them those reads are denied and counted', async (t) => {
  if (process.getuid?.() !== 0) {
    t.skip('needs root to run processes as other users with setpriv');
    return;
  }
  const otherMarker = `pgx-other-${process.pid}`;
  const other = await startOdd('pgx-other', otherMarker, { uid: 12345 });
  const otherConfig = join(dir, 'other.yaml');
  writeFileSync(otherConfig, `process_names:\n  - name: other\n    cmdline: ['${otherMarker}']\n`, { mode: 0o644 });
  const flags = ['-config.path', otherConfig, '-collect.min-interval', '0s', '-threads.details', '-gather-smaps'];
  const errorsOf = async (ex: ExporterProcess) => {
    const e = await waitFor('two cycles', async () => {
      const x = await scrapeValid(ex);
      return (find(x, 'procgroup_exporter_collection_cycles_total')[0]?.value ?? 0) >= 2 ? x : undefined;
    });
    assert.ok((find(e, 'namedprocess_namegroup_num_procs', { groupname: 'other' })[0]?.value ?? 0) >= 9);
    return {
      partial: find(e, 'namedprocess_scrape_partial_errors')[0]?.value,
      causes: find(e, 'procgroup_exporter_read_errors_total').map((s) => s.labels.file).sort(),
      pss: find(e, 'namedprocess_namegroup_memory_bytes', { groupname: 'other', memtype: 'proportionalResident' })[0]?.value ?? 0,
    };
  };
  try {
    const bare = await startExporter(flags, { asNobody: true });
    let denied;
    try {
      denied = await errorsOf(bare);
    } finally {
      await bare.stop();
    }
    assert.deepEqual(denied.causes, ['io', 'smaps_rollup', 'task_io']);
    assert.ok((denied.partial ?? 0) > 0);
    assert.equal(denied.pss, 0);

    const capable = await startExporter(flags, { asNobody: true, capabilities: ['sys_ptrace', 'dac_read_search'] });
    try {
      assert.match(readFileSync(`/proc/${capable.pid}/status`, 'utf8'), /^CapEff:\s+0+80004$/m, 'exactly CAP_DAC_READ_SEARCH and CAP_SYS_PTRACE');
      const allowed = await errorsOf(capable);
      assert.deepEqual(allowed, { partial: 0, causes: [], pss: allowed.pss });
      assert.ok(allowed.pss > 0, 'proportional memory read');
    } finally {
      await capable.stop();
    }
  } finally {
    other.stop();
  }
});
