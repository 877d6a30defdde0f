import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attributeVanished, creditChildren, newChildAccount, zeroChildCounters, type ChildSample, type VanishedTask } from '../../../src/tracker/children.js';

/** a stat sample: own ticks and reaped children's ticks (faults mirror the ticks) */
const sample = (own: number, children: number): ChildSample => ({
  utime: own, stime: 0, cutime: children, cstime: 0, minflt: own, majflt: 0, cminflt: children, cmajflt: 0,
});
/** a vanished child; its I/O (100 bytes a tick) reaches the parent's io when reaped, as its ticks reach cutime */
const child = (pid: number, ppid: number, startTime: number, own: number): VanishedTask => ({ pid, ppid, startTime, ...sample(own, 0), readBytes: 0, writeBytes: own * 100 });

/** Runs cycles of one parent (pid 1, start 10): each row the children that vanished and the parent's cutime; returns the user-tick credits. */
function credits(rows: Array<{ vanished: VanishedTask[]; cutime: number }>): number[] {
  const parent = { startTime: 10, children: newChildAccount() };
  let last = sample(0, 0);
  return rows.map(({ vanished, cutime }) => {
    attributeVanished(vanished, (pid) => (pid === 1 ? parent : undefined));
    const now = sample(0, cutime);
    const io = { readBytes: 0, writeBytes: (now.cutime - last.cutime) * 100 };
    const c = creditChildren(parent.children, now, last, io, zeroChildCounters());
    last = now;
    assert.equal(c.minflt, c.user, 'faults follow the same rule');
    assert.equal(c.writeBytes, c.user * 100, "the parent's I/O growth too");
    return c.user;
  });
}

test('children: table of credits', () => {
  const table: Array<[string, Array<{ vanished: VanishedTask[]; cutime: number }>, number[]]> = [
    ['a child that lived between two cycles is credited whole', [{ vanished: [], cutime: 7 }], [7]],
    ['a child seen at 5 ticks, reaped at 8: only the 3 unseen', [{ vanished: [child(2, 1, 20, 5)], cutime: 8 }], [3]],
    ['reap race: vanished before the parent reaps it, cutime grows next cycle', [{ vanished: [child(2, 1, 20, 5)], cutime: 0 }, { vanished: [], cutime: 8 }], [0, 3]],
    ['pid reuse: a parent that started after the child is not its parent', [{ vanished: [child(2, 1, 5, 5)], cutime: 8 }], [8]],
    ['a grandchild whose parent vanished in the same cycle counts against the grandparent', [{ vanished: [child(2, 1, 20, 1), child(3, 2, 30, 4)], cutime: 9 }], [4]],
  ];
  for (const [name, rows, want] of table) assert.deepEqual(credits(rows), want, name);
});
