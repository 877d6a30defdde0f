import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startExporter } from '../helpers/exporter-process.js';
import { sample } from '../helpers/namespace.js';
import { copyProc } from '../helpers/proc-copy.js';
import { namedWorkload, sleep } from '../helpers/workload.js';

/**
 * `-procfs` at a copied /proc tree (plain files and fd symlinks, as `cp -r` or a support bundle
 * leaves them): open_filedesc counts the fd links; the directory's size (4096) is not a count.
 */
test('open_filedesc and worst_fd_ratio from a copied /proc tree count the fd links', { timeout: 90_000 }, async () => {
  // three processes with 3 + 1, 3 and 5 extra fds (node's pipes), so sum and worst are no coincidence
  const kids = [1, 3, 5].map((extra) => spawn(namedWorkload('copy-fds'), ['threads', '2'], { stdio: ['ignore', 'ignore', 'ignore', ...Array<'pipe'>(extra).fill('pipe')] }));
  await sleep(300);
  const pids = kids.map((k) => k.pid as number);
  const root = copyProc(pids);
  const config = join(root, 'config.yaml');
  writeFileSync(config, 'process_names:\n  - name: "{{.Comm}}"\n    comm: [copy-fds]\n');
  for (const k of kids) k.kill('SIGKILL');
  const exporter = await startExporter(['-procfs', root, '-config.path', config, '-collect.min-interval', '0s']);
  try {
    const links = pids.map((pid) => readdirSync(join(root, String(pid), 'fd')).length);
    assert.deepEqual(links.map((n) => n - (links[0] ?? 0)), [0, 2, 4], `fd links copied: ${links.join(', ')}`);
    const { text } = await exporter.scrape();
    const l = { groupname: 'copy-fds' };
    assert.equal(sample(text, 'namedprocess_namegroup_num_procs', l), 3);
    assert.equal(sample(text, 'namedprocess_namegroup_open_filedesc', l), links.reduce((a, b) => a + b, 0));
    const limit = Number(/^Max open files\s+(\d+)/m.exec(readFileSync(join(root, String(pids[0]), 'limits'), 'utf8'))?.[1]);
    assert.equal(sample(text, 'namedprocess_namegroup_worst_fd_ratio', l), Math.max(...links) / limit);
  } finally {
    await exporter.stop();
    rmSync(root, { recursive: true, force: true });
  }
});
