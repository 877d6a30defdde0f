import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePidStatus } from '../../../src/procfs/pid-status.js';
import { fixtureBytes } from '../../helpers/fixtures.js';

const parse = (b: Buffer) => parsePidStatus(b, b.length);

test('uid, swap and context switches from a real status file', () => {
  const buf = fixtureBytes('proc/status-weird');
  const text = buf.toString();
  const s = parse(buf);
  assert.equal(s.uid, 0);
  assert.equal(s.voluntaryCtxSwitches, Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(text)?.[1]));
  assert.equal(s.nonvoluntaryCtxSwitches, Number(/^nonvoluntary_ctxt_switches:\s+(\d+)/m.exec(text)?.[1]));
  assert.equal(s.vmSwapBytes, Number(/^VmSwap:\s+(\d+)/m.exec(text)?.[1]) * 1024);
});

test('kernel threads and zombies have no VmSwap line', () => {
  for (const f of ['proc/status-kernel-thread', 'proc/status-zombie']) {
    const s = parse(fixtureBytes(f));
    assert.equal(s.vmSwapBytes, 0);
    assert.ok(s.voluntaryCtxSwitches >= 0);
  }
});

test('values are taken from their own lines only; unknown lines ignored', () => {
  const s = parse(Buffer.from('Name:\tvoluntary_ctxt_switches: 9\nUid:\t1000\t0\t0\t0\nFoo:\t7\nVmSwap:\t      12 kB\nvoluntary_ctxt_switches:\t3\nnonvoluntary_ctxt_switches:\t4\n'));
  assert.deepEqual(s, { uid: 1000, euid: 0, vmSwapBytes: 12 * 1024, voluntaryCtxSwitches: 3, nonvoluntaryCtxSwitches: 4 });
});

test('missing Uid line reads as -1', () => {
  assert.equal(parse(Buffer.from('Name:\tx\n')).uid, -1);
});
