/**
 * bcrypt on a worker thread: real bcryptjs in a real thread. The thread's life is checked in
 * child processes, by whether they exit on their own and by their thread count in /proc.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import { BcryptWorker } from '../../../src/server/bcrypt-worker.js';
import { repoRoot } from '../../helpers/exporter-process.js';

const threads = () => readdirSync('/proc/self/task').length;

test('compare and hash give bcryptjs results; the thread starts on the first call and stops on close()', async () => {
  const before = threads();
  const worker = new BcryptWorker();
  assert.equal(worker.running, false, 'no thread before the first call');
  assert.equal(threads(), before);
  const hash = bcrypt.hashSync('s3cret', 4);
  assert.equal(await worker.compare('s3cret', hash), true);
  assert.equal(await worker.compare('wrong', hash), false);
  const made = await worker.hash('pw', 5);
  assert.match(made, /^\$2[aby]\$05\$/);
  assert.equal(bcrypt.compareSync('pw', made), true);
  assert.equal(worker.running, true);
  assert.equal(threads(), before + 1, 'one thread');
  // what bcryptjs throws in the thread comes back as a rejection
  await assert.rejects(worker.compare('x', 5 as unknown as string), { code: 'BCRYPT_WORKER_FAILED', message: /Illegal arguments/ });
  assert.equal(await worker.compare('s3cret', hash), true, 'a failed check does not stop the thread');
  await worker.close();
  assert.equal(worker.running, false);
  assert.equal(threads(), before, 'the thread is gone');
  await assert.rejects(worker.compare('s3cret', hash), { code: 'BCRYPT_WORKER_FAILED', message: 'closed' });
});

test('an idle thread stops after idleMs; the next call starts a new one', async () => {
  const worker = new BcryptWorker({ idleMs: 100 });
  const hash = bcrypt.hashSync('a', 4);
  assert.equal(await worker.compare('a', hash), true);
  assert.equal(worker.running, true);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(worker.running, false);
  assert.equal(await worker.compare('a', hash), true);
  await worker.close();
});

/** runs `body` (TypeScript, `BcryptWorker` and `hash` in scope) in a child; its exit and output */
function child(body: string): { status: number | null; ms: number; out: string } {
  const script = `import { BcryptWorker } from ${JSON.stringify(join(repoRoot, 'src/server/bcrypt-worker.ts'))};
const hash = ${JSON.stringify(bcrypt.hashSync('pw', 8))};
${body}`;
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: repoRoot, encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, ms: Date.now() - t0, out: r.stdout + r.stderr };
}

test('an idle thread does not keep the process alive; one with a check outstanding does until it answers', () => {
  // idle for a minute by default: the process must exit without waiting for it, or for close()
  const idle = child(`const w = new BcryptWorker(); console.log(await w.compare('pw', hash));`);
  assert.equal(idle.status, 0, idle.out);
  assert.equal(idle.out.trim(), 'true');
  assert.ok(idle.ms < 20_000, `exited after ${idle.ms} ms`);
  // nothing but the outstanding check keeps this process alive: it must still get the answer
  const outstanding = child(`const w = new BcryptWorker(); w.compare('pw', hash).then((ok) => console.log('answered', ok));`);
  assert.equal(outstanding.status, 0, outstanding.out);
  assert.equal(outstanding.out.trim(), 'answered true');
});
