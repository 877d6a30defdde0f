/**
 * The groups page in a real headless browser (Debian's chromium driven by playwright-core), against
 * an exporter in a PID namespace with a known workload, behind basic auth: `/` lists the groups,
 * the group link leads to its processes, and the process list matches the workload (which pid
 * matched a rule, which joined its parent's group). Set PGE_SCREENSHOT_DIR to keep the screenshots.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { chromium } from 'playwright-core';
import { exporterCommand, freePort, namespaceSkipReason, runInPidNamespace } from '../../helpers/namespace.js';
import { waitFor } from '../../helpers/exporter-process.js';
import { namedWorkload } from '../../helpers/workload.js';

const CHROMIUM = '/usr/bin/chromium';
const skip = namespaceSkipReason() ?? (existsSync(CHROMIUM) ? undefined : `no ${CHROMIUM} (Debian package chromium)`);
if (skip) console.log(`# skipped: ${skip}`);

const dir = mkdtempSync(join(tmpdir(), 'pge-groups-page-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('groups page in chromium: / lists the groups, a group link shows its processes and how each joined', { skip, timeout: 180_000 }, async () => {
  // gp-parent (a script: its comm is its name) starts one busy and one idle gp-app child
  writeFileSync(join(dir, 'gp-parent'), `#!/bin/bash\n'${namedWorkload('gp-app')}' busy &\n'${namedWorkload('gp-app')}' threads 3 &\nwait\n`);
  chmodSync(join(dir, 'gp-parent'), 0o755);
  writeFileSync(join(dir, 'web.yaml'), `basic_auth_users:\n  viewer: ${bcrypt.hashSync('pw-page', 4)}\n`);
  const port = await freePort();
  const ns = runInPidNamespace(`'${join(dir, 'gp-parent')}' &
'${namedWorkload('gp-solo')}' threads 2 &
${exporterCommand(['serve', '-web.listen-address', `127.0.0.1:${port}`, '-web.config.file', join(dir, 'web.yaml'), '-collect.min-interval', '1s'])} &
wait
`);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    const url = `http://127.0.0.1:${port}`;
    const auth = `Basic ${Buffer.from('viewer:pw-page').toString('base64')}`;
    // rates need a second cycle: wait until the busy group shows CPU
    await waitFor('rates in /api/groups', async () => {
      try {
        const r = await fetch(`${url}/api/groups`, { headers: { Authorization: auth } });
        const view = (await r.json()) as { intervalSeconds: number; groups: Array<{ name: string; cpuUser: number | null }> };
        return view.intervalSeconds > 0 && (view.groups.find((g) => g.name === 'gp-parent')?.cpuUser ?? 0) > 0 ? true : undefined;
      } catch {
        return undefined; // not listening yet
      }
    }, 90_000);

    // without credentials (chromium only reports a failed navigation, so asked directly)
    assert.equal((await fetch(`${url}/`)).status, 401, 'the page is behind the same auth as /metrics');
    assert.equal((await fetch(`${url}/groups/gp-parent`)).status, 401);
    assert.equal((await fetch(`${url}/api/groups`)).status, 401);

    const context = await browser.newContext({ httpCredentials: { username: 'viewer', password: 'pw-page' }, viewport: { width: 1280, height: 640 } });
    const page = await context.newPage();
    assert.equal((await page.goto(`${url}/`))?.status(), 200);
    const rows = await page.$$eval('#groups tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => (td.textContent ?? '').trim())));
    const byName = new Map(rows.map((r) => [r[0], r]));
    assert.equal(byName.get('gp-parent')?.[2], '3', 'gp-parent: the script and its two children');
    assert.equal(byName.get('gp-solo')?.[2], '1');
    assert.equal(byName.get('gp-solo')?.[3], '2', 'gp-solo: 2 threads');
    assert.equal(rows[0]?.[0], 'gp-parent', 'the busy group first');
    const shots = process.env.PGE_SCREENSHOT_DIR ?? dir;
    await page.screenshot({ path: join(shots, 'groups-page.png') });

    await page.click('#groups a:text-is("gp-parent")');
    await page.waitForURL(`${url}/groups/gp-parent`);
    const procs = await page.$$eval('table.processes tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => (td.textContent ?? '').trim())));
    // columns: pid, ppid, comm, CPU, resident, threads, container, matched by
    const parent = procs.find((p) => p[2] === 'gp-parent');
    assert.ok(parent, JSON.stringify(procs));
    assert.equal(parent[1], '1', 'gp-parent is a child of pid 1');
    assert.match(parent[7] ?? '', /^rule 2: name: "\{\{\.Comm\}\}", ppid: 1$/);
    const children = procs.filter((p) => p[2] === 'gp-app');
    assert.equal(children.length, 2);
    for (const c of children) {
      assert.equal(c[1], parent[0]);
      assert.equal(c[7], `child of tracked pid ${parent[0]}`);
    }
    assert.deepEqual(children.map((c) => c[5]).sort(), ['1', '3'], 'the busy child has 1 thread, the idle one 3');
    assert.equal(procs.length, 3);
    await page.screenshot({ path: join(shots, 'group-page.png'), fullPage: true });
  } finally {
    await browser.close();
    await ns.stop();
  }
});
