import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, rmSync, statSync } from 'node:fs';
import { test } from 'node:test';
import { GONE, ProcReader } from '../../../src/host/proc-reader.js';
import { copyProc } from '../../helpers/proc-copy.js';

const reader = new ProcReader('/proc');

test('listIdsAsync lists the same pids as listIds, and [] for a process that is gone', async () => {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    const pid = child.pid as number;
    const [sync, async] = [reader.listIds('/proc'), await reader.listIdsAsync('/proc')];
    // processes of others may start or end between the two listings: compare on ours
    assert.ok(sync.includes(process.pid) && sync.includes(pid));
    assert.ok(async.includes(process.pid) && async.includes(pid));
    assert.ok(async.every((id) => Number.isInteger(id) && id > 0));
  } finally {
    child.kill('SIGKILL');
  }
  await new Promise((resolve) => child.once('exit', resolve));
  assert.deepEqual(await reader.listIdsAsync(`/proc/${child.pid}/task`), []);
});

test('countFds follows opened and closed fds, and is GONE for a process that exited', async () => {
  const dir = `/proc/${process.pid}/fd`;
  const before = reader.countFds(dir);
  // a listing of our own fd/ includes the fd it holds open while it lists
  assert.ok(Math.abs(before - readdirSync(dir).length) <= 1, `${before} vs ${readdirSync(dir).length}`);
  const fds = [openSync('/proc/self/stat', 'r'), openSync('/proc/self/status', 'r')];
  assert.equal(reader.countFds(dir), before + 2);
  for (const fd of fds) closeSync(fd);
  assert.equal(reader.countFds(dir), before);

  const child = spawn('true', { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  assert.equal(reader.countFds(`/proc/${child.pid}/fd`), GONE);
});

test('countFds in a copied /proc tree counts the fd links, not the directory size', () => {
  const fds = [openSync('/proc/self/stat', 'r'), openSync('/proc/self/status', 'r'), openSync('/proc/self/io', 'r')];
  const root = copyProc([process.pid]);
  try {
    for (const fd of fds) closeSync(fd);
    const dir = `${root}/${process.pid}/fd`;
    const links = readdirSync(dir).length;
    // the copy is a plain directory: its size says nothing about its entries
    assert.notEqual(statSync(dir).size, links);
    assert.equal(new ProcReader(root).countFds(dir), links);
    assert.ok(links >= 6, `${links} fd links copied (stdio and the three opened above)`);
    assert.equal(new ProcReader(root).countFds(`${root}/999999999/fd`), GONE);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
