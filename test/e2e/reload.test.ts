/**
 * Config reload on a real exporter process, through SIGHUP and POST /-/reload: good, bad and
 * missing files. A rejected file keeps the last good config serving, sets
 * procgroup_exporter_config_last_reload_successful to 0 and logs file:line:column.
 * Also: the web config guards /-/reload, and a bad web config stops start-up with exit 1.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { type ExporterProcess, repoRoot, startExporter, waitFor } from '../helpers/exporter-process.js';
import { find, parseExposition } from '../helpers/exposition.js';

let dir: string;
let config: string;
const sleepers: ChildProcess[] = [];

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'pgx-reload-'));
  chmodSync(dir, 0o755);
  config = join(dir, 'config.yaml');
  // comm comes from the name the binary is started under
  for (const name of ['pgx-alpha', 'pgx-beta']) {
    symlinkSync('/bin/sleep', join(dir, name));
    sleepers.push(spawn(join(dir, name), ['3600'], { stdio: 'ignore' }));
  }
});
after(() => {
  for (const s of sleepers) s.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

const GOOD_A = 'process_names:\n  - name: alpha\n    comm: [pgx-alpha]\n';
const GOOD_AB = 'process_names:\n  - name: alpha\n    comm: [pgx-alpha]\n  - name: beta\n    comm: [pgx-beta]\n';
// line 3, column 5: a misspelt key
const BAD = 'process_names:\n  - name: gamma\n    comms: [pgx-alpha]\n';

interface State {
  reloadOk: number | undefined;
  reloadTime: number | undefined;
  groups: Map<string, number>;
  cycles: number;
}

async function state(ex: ExporterProcess, init?: RequestInit): Promise<State> {
  const r = await ex.scrape('/metrics', init);
  assert.equal(r.status, 200, r.text);
  const e = parseExposition(r.text);
  return {
    reloadOk: find(e, 'procgroup_exporter_config_last_reload_successful')[0]?.value,
    reloadTime: find(e, 'procgroup_exporter_config_last_reload_success_timestamp_seconds')[0]?.value,
    groups: new Map(find(e, 'namedprocess_namegroup_num_procs').map((s) => [s.labels.groupname as string, s.value])),
    cycles: find(e, 'procgroup_exporter_collection_cycles_total')[0]?.value ?? 0,
  };
}

const count = (text: string, re: RegExp) => (text.match(new RegExp(re, 'g')) ?? []).length;

test('SIGHUP: good, bad and missing files; the last good config keeps serving', async () => {
  writeFileSync(config, GOOD_A);
  const ex = await startExporter(['-config.path', config, '-collect.min-interval', '0s']);
  try {
    let s = await waitFor('alpha', async () => ((await state(ex)).groups.get('alpha') === 1 ? state(ex) : undefined));
    assert.equal(s.reloadOk, 1);
    const startedAt = s.reloadTime ?? 0;

    writeFileSync(config, GOOD_AB);
    ex.child.kill('SIGHUP');
    s = await waitFor('beta after SIGHUP', async () => ((await state(ex)).groups.get('beta') === 1 ? state(ex) : undefined));
    assert.equal(s.reloadOk, 1);
    assert.ok((s.reloadTime ?? 0) > startedAt);
    assert.equal(s.groups.get('alpha'), 1);

    writeFileSync(config, BAD);
    ex.child.kill('SIGHUP');
    s = await waitFor('a failed reload', async () => ((await state(ex)).reloadOk === 0 ? state(ex) : undefined));
    assert.match(ex.log(), new RegExp(`level=error msg="config reload failed, keeping the last good config" file=${config} err=".*${config}:3:5: process_names\\[0\\]\\.comms: unknown key`));
    assert.equal(s.groups.get('alpha'), 1, 'old groups still served');
    assert.equal(s.groups.get('beta'), 1);
    assert.ok(!s.groups.has('gamma'));
    const cycles = s.cycles;
    assert.ok((await state(ex)).cycles > cycles, 'collection goes on');

    rmSync(config);
    ex.child.kill('SIGHUP');
    await waitFor('the missing-file error', () => (count(ex.log(), /config reload failed/) === 2 ? true : undefined));
    assert.match(ex.log(), /cannot read config file: ENOENT/);
    s = await state(ex);
    assert.equal(s.reloadOk, 0);
    assert.equal(s.groups.get('beta'), 1);

    writeFileSync(config, GOOD_AB);
    ex.child.kill('SIGHUP');
    s = await waitFor('recovery', async () => ((await state(ex)).reloadOk === 1 ? state(ex) : undefined));
    assert.equal(s.groups.get('alpha'), 1);
  } finally {
    assert.equal(await ex.stop(), 0, ex.log());
  }
  assert.match(ex.log(), /msg="shutting down" signal=SIGTERM/);
});

test('POST /-/reload: good, bad and missing files', async () => {
  writeFileSync(config, GOOD_AB);
  const ex = await startExporter(['-config.path', config, '-collect.min-interval', '0s', '-web.enable-lifecycle']);
  const reload = () => ex.scrape('/-/reload', { method: 'POST' });
  try {
    await waitFor('beta', async () => ((await state(ex)).groups.get('beta') === 1 ? true : undefined));

    writeFileSync(config, GOOD_A);
    const good = await reload();
    assert.deepEqual(good, { status: 200, text: 'config reloaded\n' });
    let s = await state(ex);
    assert.equal(s.reloadOk, 1);
    assert.equal(s.groups.get('alpha'), 1);
    assert.ok(!s.groups.has('beta'), 'the new config applies: beta is gone');

    writeFileSync(config, BAD);
    const bad = await reload();
    assert.equal(bad.status, 400);
    assert.match(bad.text, /^config rejected, keeping the last good one/);
    assert.ok(!bad.text.includes('comms') && !bad.text.includes(config), 'no file content in the body');
    assert.match(ex.log(), new RegExp(`${config}:3:5: process_names\\[0\\]\\.comms: unknown key`));
    s = await state(ex);
    assert.equal(s.reloadOk, 0);
    assert.equal(s.groups.get('alpha'), 1);

    rmSync(config);
    assert.equal((await reload()).status, 400);
    assert.match(ex.log(), /cannot read config file: ENOENT/);
    s = await state(ex);
    assert.equal(s.reloadOk, 0);
    assert.equal(s.groups.get('alpha'), 1);

    assert.equal((await ex.scrape('/-/reload')).status, 405, 'GET does not reload');
    writeFileSync(config, GOOD_A);
    assert.equal((await reload()).status, 200);
    assert.equal((await state(ex)).reloadOk, 1);
  } finally {
    assert.equal(await ex.stop(), 0, ex.log());
  }
});

test('with basic auth in the web config, /-/reload and /metrics need the password', async () => {
  writeFileSync(config, GOOD_A);
  const web = join(dir, 'web.yml');
  writeFileSync(web, `basic_auth_users:\n  ops: ${bcrypt.hashSync('pw', 4)}\n`);
  const ex = await startExporter(['-config.path', config, '-web.config.file', web, '-web.enable-lifecycle']);
  const auth = { Authorization: `Basic ${Buffer.from('ops:pw').toString('base64')}` };
  try {
    assert.equal((await ex.scrape('/-/reload', { method: 'POST' })).status, 401);
    assert.equal((await ex.scrape('/metrics')).status, 401);
    assert.equal((await ex.scrape('/-/reload', { method: 'POST', headers: auth })).status, 200);
    assert.equal((await state(ex, { headers: auth })).groups.get('alpha'), 1);
  } finally {
    await ex.stop();
  }
});

test('a bad web config stops start-up: exit 1, file:line:column in the log', () => {
  const web = join(dir, 'bad-web.yml');
  writeFileSync(web, 'tls_server_config:\n  cert_file: /nonexistent.crt\n  key_file: /nonexistent.key\n  client_auth_type: Sometimes\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '-web.listen-address', '127.0.0.1:0', '-web.config.file', web], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr, new RegExp(`msg="cannot use web config" file=${web} err=".*${web}:4:21: tls_server_config\\.client_auth_type: must be one of`));
  const missing = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '-web.listen-address', '127.0.0.1:0', '-web.config.file', join(dir, 'absent.yml')], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /absent\.yml: cannot read web config file: ENOENT/);
});
