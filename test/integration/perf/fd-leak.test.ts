/**
 * No perf fd outlives its process: 1,000 real processes become members, are counted, and exit,
 * cycle by cycle; the exporter's own fd table (/proc/self/fd) must end where it began.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Burn, TASK_CLOCK, member, metricValue, openFdCount, perfCollector, rootMissing, snapshot, workloadMissing } from './workload.js';

const skip = rootMissing() || workloadMissing;
if (skip) console.log(`# skipped: ${skip}`);

const EVENTS = ['TaskClock', 'ContextSwitches'];

async function exitCycles(inherit: 'threads' | 'tree', cycles: number, perCycle: number): Promise<void> {
  const parker = await Burn.start(0, 100);
  const before = openFdCount();
  const t = perfCollector({ events: EVENTS, inherit });
  let exited = 0;
  let lastTotal = 0;
  let dead: Array<{ pid: number; startTime: number }> = [];
  try {
    for (let cycle = 1; cycle <= cycles; cycle++) {
      const kids = (await parker.command(`park ${perCycle}`)).split(' ').slice(1).map(Number);
      const members = kids.map((k) => member(k));
      // processes that exited in the previous cycle, listed again: pid gone (or reused) before the open
      t.collector.update(snapshot(cycle * 2 - 1, [{ name: 'parked', members: [...members, ...dead] }]));
      assert.equal(t.collector.openFds, perCycle * EVENTS.length, `cycle ${cycle}: one fd per process and event`);
      assert.equal(openFdCount(), before + perCycle * EVENTS.length, `cycle ${cycle}: /proc/self/fd holds exactly the counters`);
      for (const k of kids) process.kill(k, 'SIGKILL');
      assert.equal(await parker.command('reap'), 'reaped');
      exited += kids.length;
      dead = members.slice(0, 5).map((m) => ({ pid: m.pid, startTime: m.startTime ?? 0 }));
      t.collector.update(snapshot(cycle * 2, [{ name: 'parked', members: [] }]));
      assert.equal(t.collector.openFds, 0, `cycle ${cycle}: every counter of an exited process is closed`);
      assert.equal(openFdCount(), before, `cycle ${cycle}: no fd left open`);
      const total = (await metricValue(t.registry, TASK_CLOCK, { groupname: 'parked' })) ?? 0;
      assert.ok(total >= lastTotal, 'counts of exited processes stay in the group');
      lastTotal = total;
    }
    console.log(`# ${inherit}: ${exited} process exits, fds before ${before}, after ${openFdCount()}, task-clock kept ${lastTotal.toFixed(4)} s`);
    assert.equal(exited, cycles * perCycle);
    assert.ok(lastTotal > 0, 'the parked processes\' fork and exit time was counted');
    t.collector.close();
    assert.equal(openFdCount(), before, 'nothing left after close()');
  } finally {
    t.collector.close();
    await parker.stop();
  }
}

test('1,000 process exits (threads inheritance) leave no fd open', { skip }, async () => {
  await exitCycles('threads', 20, 50);
});

test('1,000 process exits (tree inheritance) leave no fd open', { skip }, async () => {
  await exitCycles('tree', 20, 50);
});
