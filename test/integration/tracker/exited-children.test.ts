import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../src/config/load.js';
import { Grouper } from '../../../src/grouper/grouper.js';
import { Tracker } from '../../../src/tracker/tracker.js';
import { sleep, startWorkload } from '../../helpers/workload.js';
import { Host } from '../../../src/host/host.js';

/**
 * Real processes on the real /proc: a workload forks short-lived CPU burners (mostly never alive
 * at a cycle) and reports its own CPU plus its reaped children's from getrusage. The group's
 * CPU must match within 3%.
 */
async function measure(name: string, args: string[], cycleMs: number): Promise<{ group: number; truth: number }> {
  const { matcher } = parseConfig(`process_names:\n  - name: "{{.Comm}}"\n    comm: [${name}]\n`, 'inline.yaml');
  const tracker = new Tracker({ host: new Host({ procfsRoot: '/proc' }), matcher, children: true, threads: true, threadDetails: false, gatherSmaps: false, recheck: false, pageSize: 4096 });
  const grouper = new Grouper({ removeEmptyGroups: false, gatherSmaps: false, threadNameTtlCycles: 40 });
  const cycle = async () => grouper.apply(await tracker.update(), 0, 0);
  await cycle(); // baseline before the workload exists: it is credited as a newcomer
  const wl = startWorkload(name, args);
  try {
    let done = false;
    const truthPromise = wl.result().then((t) => {
      done = true;
      return t;
    });
    while (!done) {
      await cycle();
      await sleep(cycleMs);
    }
    const truth = await truthPromise;
    const snap = await cycle();
    const g = snap.groups.find((x) => x.name === name);
    assert.ok(g, `group ${name} present`);
    const threadSum = [...g.threads.values()].reduce((a, t) => a + t.cpu.user + t.cpu.system, 0);
    assert.ok(Math.abs(threadSum - (g.cpu.user + g.cpu.system)) < 0.05, `thread totals ${threadSum} follow cpu ${g.cpu.user + g.cpu.system}`);
    return { group: g.cpu.user + g.cpu.system, truth };
  } finally {
    wl.stop();
  }
}

function assertWithin(t: { diagnostic(msg: string): void }, r: { group: number; truth: number }, share: number): void {
  const err = Math.abs(r.group - r.truth) / r.truth;
  t.diagnostic(`group ${r.group.toFixed(3)} s, workload getrusage ${r.truth.toFixed(3)} s, error ${(err * 100).toFixed(2)}%`);
  assert.ok(err < share, `group CPU ${r.group.toFixed(3)} s vs workload's own ${r.truth.toFixed(3)} s: off by ${(err * 100).toFixed(1)}%`);
}

test('100 short children a second, 5 ms each, for 10 s: no CPU lost', { timeout: 60_000 }, async (t) => {
  const r = await measure('acct-forker', ['forker', '100', '5', '10'], 1000);
  assert.ok(r.truth > 3, `workload burned ${r.truth} s`);
  assertWithin(t, r, 0.03);
});

test('grandchildren that exit before their parent are credited through it', { timeout: 60_000 }, async (t) => {
  const r = await measure('acct-grand', ['forker', '40', '8', '10', 'G'], 1000);
  assert.ok(r.truth > 3, `workload burned ${r.truth} s`);
  assertWithin(t, r, 0.03);
});

test('a long-lived child seen at several cycles, then reaped, is not counted twice', { timeout: 60_000 }, async (t) => {
  const r = await measure('acct-long', ['longchild', '3'], 400);
  assert.ok(r.truth > 2.9, `workload burned ${r.truth} s`);
  assertWithin(t, r, 0.03);
});
