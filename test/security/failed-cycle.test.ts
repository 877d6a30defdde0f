/**
 * Attack on visibility: the exporter cannot read /proc. A wrong -procfs stops start-up with a
 * clear message; a cycle that fails at run time (the procfs gone, or no file descriptor left under
 * `ulimit -n 64`) shows in that same scrape
 * (procgroup_exporter_scrape_collector_success{collector="walk"} 0, namedprocess_scrape_errors
 * incremented, no group data) and /health turns 503 after -health.max-failed-cycles failures in a row.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { repoRoot, startExporter, waitFor } from '../helpers/exporter-process.js';
import { find, parseExposition } from '../helpers/exposition.js';
import { copyProc } from '../helpers/proc-copy.js';
import { tcpSockets } from '../helpers/tcp-table.js';
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

const FD_LIMIT = 64;

test(`under ulimit -n ${FD_LIMIT}, a cycle with no file descriptor left fails visibly in that scrape, and /health fails after 3`, { timeout: 120_000 }, async () => {
  const kid = spawn(namedWorkload('pgx-fdlimit'), ['threads', '1'], { stdio: 'ignore' });
  const config = join(tmpdir(), `pgx-fdlimit-${process.pid}.yaml`);
  writeFileSync(config, 'process_names:\n  - name: "{{.Comm}}"\n    comm: [pgx-fdlimit]\n');
  const ex = await startExporter(['-config.path', config, '-collect.min-interval', '0s'], { maxOpenFiles: FD_LIMIT });
  // Prometheus and the kubelet on one kept-alive connection, opened before the table is full
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = (path: string) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port: ex.port, path, agent, localAddress: '127.0.0.2' }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        })
        .on('error', reject);
    });
  const scrape = async () => {
    const r = await get('/metrics');
    assert.equal(r.status, 200);
    const e = parseExposition(r.text);
    return {
      walk: find(e, 'procgroup_exporter_scrape_collector_success', { collector: 'walk' })[0]?.value,
      errors: find(e, 'namedprocess_scrape_errors')[0]?.value,
      procs: find(e, 'namedprocess_namegroup_num_procs', { groupname: 'pgx-fdlimit' })[0]?.value,
    };
  };
  const openFds = () => readdirSync(`/proc/${ex.pid}/fd`).length;
  const flood: net.Socket[] = [];
  try {
    assert.match(readFileSync(`/proc/${ex.pid}/limits`, 'utf8'), new RegExp(`^Max open files\\s+${FD_LIMIT}\\s+${FD_LIMIT}\\s`, 'm'));
    assert.deepEqual(await scrape(), { walk: 1, errors: 0, procs: 1 }, `${FD_LIMIT} descriptors are enough for an idle exporter`);
    const idleFds = openFds();
    // connections that send nothing fill the rest of the table (the header timeout would close
    // them after 10 s; the scrapes below take well under that). Files the exporter keeps open
    // between cycles (-procfs.held-files) take at most half the limit and are released as needed
    for (let i = 0; i < FD_LIMIT; i++) {
      const s = net.connect({ host: '127.0.0.1', port: ex.port, localAddress: `127.0.6.${i + 1}` });
      s.on('error', () => {});
      flood.push(s);
    }
    await waitFor('the exporter to hold every descriptor it may', () => (openFds() >= FD_LIMIT ? true : undefined), 5000);
    console.log(`idle: ${idleFds} descriptors open; ${openFds()} of ${FD_LIMIT} with the idle connections`);
    assert.deepEqual(await scrape(), { walk: 0, errors: 1, procs: undefined }, 'the failure is in this very scrape, with no stale group data');
    assert.equal((await get('/health')).status, 200, 'one failed cycle is not yet unhealthy');
    assert.deepEqual(await scrape(), { walk: 0, errors: 2, procs: undefined });
    assert.deepEqual(await scrape(), { walk: 0, errors: 3, procs: undefined });
    const health = await get('/health');
    assert.equal(health.status, 503, 'three failed cycles in a row');
    assert.match(health.text, /3 collection cycles failed in a row/);
    assert.match(ex.log(), /level=error msg="collection cycle failed" err="[^"]*EMFILE/);
    for (const s of flood) s.destroy();
    // held by a process (TIME_WAIT leftovers have no inode)
    const flooding = () => tcpSockets().some((t) => t.localPort === ex.port && t.inode !== 0 && t.remote.startsWith('127.0.6.'));
    await waitFor('the idle connections to close', () => (flooding() ? undefined : true), 5000);
    assert.deepEqual(await scrape(), { walk: 1, errors: 3, procs: 1 }, 'recovered; the error counter keeps its count');
    assert.equal((await get('/health')).status, 200);
  } finally {
    for (const s of flood) s.destroy();
    agent.destroy();
    await ex.stop();
    kid.kill('SIGKILL');
    rmSync(config, { force: true });
  }
});
