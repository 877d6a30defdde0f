import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
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

/** utime+stime (ticks) of a stat file in the reader's buffer */
function cpuTicks(r: ProcReader, n: number): number {
  const fields = r.bytes.toString('latin1', 0, n).slice(r.bytes.lastIndexOf(')', n) + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

test('readHeld keeps a process file open and reads it afresh each time; GONE and closed once the process exited', async () => {
  const held = new ProcReader('/proc', { heldFiles: 8 });
  // a child that burns CPU: its stat must move between two reads of the same held fd
  const child = spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
  const path = `/proc/${child.pid}/stat`;
  try {
    const first = cpuTicks(held, held.readHeld(path));
    assert.equal(held.heldCount, 1);
    const deadline = Date.now() + 20_000;
    let later = first;
    while (later <= first && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      later = cpuTicks(held, held.readHeld(path));
    }
    assert.ok(later > first, `utime+stime ${first} -> ${later} through the held fd`);
    assert.equal(held.heldCount, 1, 'the same fd, not one per read');
  } finally {
    child.kill('SIGKILL');
  }
  await new Promise((resolve) => child.once('exit', resolve));
  assert.equal(held.readHeld(path), GONE);
  assert.equal(held.heldCount, 0, 'the fd of the exited process is closed');
  held.close();
});

test('readHeld holds at most its budget, releaseUnused closes what was not read since, close() closes all', () => {
  const fdDir = `/proc/${process.pid}/fd`;
  const before = readdirSync(fdDir).length;
  const held = new ProcReader('/proc', { heldFiles: 2 });
  const files = ['stat', 'status', 'io'].map((f) => `/proc/${process.pid}/${f}`);
  for (const f of files) assert.ok(held.readHeld(f) > 0);
  assert.equal(held.heldCount, 2, 'the third read is opened and closed');
  assert.equal(readdirSync(fdDir).length, before + 2);
  // the first pass after the reads keeps what they used; the next one closes what nobody read since
  held.releaseUnused();
  assert.ok(held.readHeld(files[0] as string) > 0);
  held.releaseUnused();
  assert.equal(held.heldCount, 1);
  held.close();
  assert.equal(held.heldCount, 0);
  assert.equal(readdirSync(fdDir).length, before);

  const none = new ProcReader('/proc', { heldFiles: 0 });
  assert.ok(none.readHeld(files[0] as string) > 0);
  assert.equal(none.heldCount, 0, 'heldFiles 0 holds nothing');
});

test('readHeld in a copied /proc tree holds nothing: a rewritten file reads as rewritten', () => {
  const root = copyProc([process.pid]);
  try {
    const copy = new ProcReader(root, { heldFiles: 8 });
    const path = `${root}/${process.pid}/stat`;
    const n = copy.readHeld(path);
    assert.ok(n > 0);
    assert.equal(copy.heldCount, 0);
    writeFileSync(path, '1 (x) S 0');
    assert.equal(copy.bytes.toString('latin1', 0, copy.readHeld(path)), '1 (x) S 0');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
