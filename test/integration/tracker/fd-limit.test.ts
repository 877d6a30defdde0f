import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../../src/config/load.js';
import { Host } from '../../../src/host/host.js';
import { Tracker } from '../../../src/tracker/tracker.js';

/**
 * A process that changes its open-file limit after it was first seen (as Go's runtime and many
 * daemons do; here prlimit from outside): the limit behind worst_fd_ratio follows within the
 * refresh period (8 cycles), through held files as the exporter runs by default.
 */
test('fd limit: a limit raised after the process was first seen shows within 8 cycles', async () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pge-fdlimit-'));
  const exe = path.join(dir, 'pgfdlim');
  copyFileSync('/bin/sleep', exe);
  const child = spawn(exe, ['60'], { stdio: 'ignore' });
  const pid = child.pid as number;
  const host = new Host({ procfsRoot: '/proc', containerNames: false, heldFiles: 64 });
  try {
    execFileSync('prlimit', ['--pid', String(pid), '--nofile=100:200']);
    const { matcher } = parseConfig('process_names:\n  - name: "{{.Comm}}"\n    comm: [pgfdlim]\n', 'inline.yaml');
    const tracker = new Tracker({ host, matcher, children: false, threads: false, threadDetails: false, gatherSmaps: false, recheck: false, pageSize: 4096 });
    const limitOf = async () => (await tracker.update()).updates.find((u) => u.member.pid === pid)?.fdLimit;
    assert.equal(await limitOf(), 100);
    execFileSync('prlimit', ['--pid', String(pid), '--nofile=150:200']);
    const seen: (number | undefined)[] = [];
    for (let i = 0; i < 8; i++) seen.push(await limitOf());
    // cycles 2..9; the process's refresh cycle is the one where (cycle + pid) % 8 === 0
    const refresh = 2 + ((((8 - ((2 + pid) % 8)) % 8) + 8) % 8);
    const expected = seen.map((_, i) => (i + 2 >= refresh ? 150 : 100));
    assert.deepEqual(seen, expected, `refresh at cycle ${refresh}`);
    tracker.close();
  } finally {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
});
