/**
 * The fd budget: a group whose counters do not fit in perf.max_fds (or in the process's open-file
 * limit) is skipped whole, counted in procgroup_exporter_perf_groups_skipped_total, and counted
 * again once it fits; groups already counted keep their counters.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import koffi from 'koffi';
import { Burn, TASK_CLOCK, member, metricValue, openFdCount, perfCollector, rootMissing, sleep, snapshot, workloadMissing } from './workload.js';

const skip = rootMissing() || workloadMissing;
if (skip) console.log(`# skipped: ${skip}`);

const EVENTS = ['TaskClock', 'ContextSwitches'];
const SKIPPED = 'procgroup_exporter_perf_groups_skipped_total';
const burns: Burn[] = [];
after(async () => {
  for (const b of burns) await b.stop();
});

test('a group that does not fit in perf.max_fds is skipped, reported, and counted once room is made', { skip }, async () => {
  const parker = await Burn.start(0, 100);
  const busy = await Burn.start(3, 30);
  burns.push(parker, busy);
  const kids = (await parker.command('park 2')).split(' ').slice(1).map(Number);
  // small: 2 fds per thread; "small" needs 4, "busy" 8 (4 threads), the budget is 10
  const t = perfCollector({ events: EVENTS, maxFds: 10 });
  const groups = (withKids: boolean) => [
    { name: 'small', members: withKids ? kids.map((k) => member(k)) : [] },
    { name: 'busy', members: [member(busy.pid)] },
  ];
  try {
    t.collector.update(snapshot(1, groups(true)));
    t.collector.update(snapshot(2, groups(true)));
    assert.equal(t.collector.openFds, 4);
    assert.equal(await metricValue(t.registry, SKIPPED, { groupname: 'busy' }), 2, 'skipped in both cycles');
    assert.equal(await metricValue(t.registry, SKIPPED, { groupname: 'small' }), undefined);
    assert.equal(await metricValue(t.registry, TASK_CLOCK, { groupname: 'busy' }), undefined, 'no partial counts for a skipped group');
    assert.ok((await metricValue(t.registry, TASK_CLOCK, { groupname: 'small' })) !== undefined);
    const warned = t.logs.filter((l) => l.includes('skipped until its counters fit'));
    assert.equal(warned.length, 1, 'logged once');
    assert.match(warned[0] ?? '', /group busy .*needs 8 more fds, 6 of 10 free/);

    for (const k of kids) process.kill(k, 'SIGKILL');
    assert.equal(await parker.command('reap'), 'reaped');
    t.collector.update(snapshot(3, groups(false)));
    assert.equal(t.collector.openFds, 8, 'the small group\'s fds were freed and the busy group got its counters');
    assert.equal(await metricValue(t.registry, 'procgroup_exporter_perf_open_fds', {}), 8);
    assert.equal(await metricValue(t.registry, SKIPPED, { groupname: 'busy' }), 2, 'not skipped any more');
    await sleep(300);
    t.collector.update(snapshot(4, groups(false)));
    assert.ok(((await metricValue(t.registry, TASK_CLOCK, { groupname: 'busy' })) ?? 0) > 0, 'counted now');
    assert.ok(t.logs.some((l) => l.includes('fits in the fd budget again')));
  } finally {
    t.collector.close();
  }
});

/** getrlimit/setrlimit(RLIMIT_NOFILE) of this process, without spawning a helper (which itself needs fds) */
function nofileLimit(): { get(): { cur: bigint; max: bigint }; set(cur: bigint, max: bigint): void } {
  const libc = koffi.load(null);
  koffi.struct('perf_test_rlimit', { cur: 'uint64_t', max: 'uint64_t' });
  const getrlimit = libc.func('int getrlimit(int resource, _Out_ perf_test_rlimit *rlim)');
  const setrlimit = libc.func('int setrlimit(int resource, const perf_test_rlimit *rlim)');
  const RLIMIT_NOFILE = 7;
  return {
    get() {
      const out = { cur: 0n, max: 0n };
      assert.equal(getrlimit(RLIMIT_NOFILE, out), 0);
      return { cur: BigInt(out.cur), max: BigInt(out.max) };
    },
    set(cur, max) {
      assert.equal(setrlimit(RLIMIT_NOFILE, { cur, max }), 0, `setrlimit errno ${koffi.errno()}`);
    },
  };
}

test('hitting the process open-file limit (EMFILE) skips the group and leaks nothing', { skip }, async () => {
  const busy = await Burn.start(3, 30);
  burns.push(busy);
  const t = perfCollector({ events: EVENTS, maxFds: 4096 });
  const limit = nofileLimit();
  const original = limit.get();
  try {
    t.collector.update(snapshot(1, [{ name: 'busy', members: [] }]));
    const before = openFdCount();
    // room for 5 more fds: the group needs 8
    limit.set(BigInt(before + 5), original.max);
    try {
      t.collector.update(snapshot(2, [{ name: 'busy', members: [member(busy.pid)] }]));
    } finally {
      limit.set(original.cur, original.max);
    }
    assert.equal(t.collector.openFds, 0);
    assert.equal(openFdCount(), before, 'the counters opened before EMFILE were closed');
    assert.equal(await metricValue(t.registry, SKIPPED, { groupname: 'busy' }), 1);
    assert.ok(t.logs.some((l) => l.includes('group busy skipped') && l.includes('EMFILE')), t.logs.join(''));
    t.collector.update(snapshot(3, [{ name: 'busy', members: [member(busy.pid)] }]));
    assert.equal(t.collector.openFds, 8, 'counted once the limit allows');
  } finally {
    limit.set(original.cur, original.max);
    t.collector.close();
  }
});
