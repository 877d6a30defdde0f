import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Registry } from 'prom-client';
import { GroupCollector } from '../../../src/collectors/group.js';
import { newGroupSnapshot } from '../../../src/grouper/grouper.js';
import type { CycleSnapshot } from '../../../src/grouper/snapshot.js';

function cycle(delayAccounting: boolean | undefined): CycleSnapshot {
  const g = newGroupSnapshot('app', 'app', {}, new Map());
  g.processesStarted = 7;
  g.processesExited = 5;
  g.delays = { cpu: 0.5, blkio: 0.25, swapin: 0, reclaim: 0.125 };
  return {
    timeMs: 0,
    durationSeconds: 0,
    intervalSeconds: 1,
    cycle: 2,
    groups: [g],
    host: { user: 0, system: 0, unaccounted: 0 },
    errors: { scrapeErrors: 0, procReadErrors: 0, partialErrors: 0, byFile: new Map() },
    exitRecords: delayAccounting === undefined ? undefined : { received: 12, lost: 0, delayAccounting },
  };
}

async function render(c: CycleSnapshot): Promise<string> {
  const registry = new Registry();
  const collector = new GroupCollector({ labelNames: [], gatherSmaps: false });
  collector.register(registry);
  collector.update(c);
  return registry.metrics();
}

test('churn and delay families: block I/O, swap-in and reclaim delays only when the kernel keeps them', async () => {
  const on = await render(cycle(true));
  assert.match(on, /^namedprocess_namegroup_processes_started_total\{groupname="app"\} 7$/m);
  assert.match(on, /^namedprocess_namegroup_processes_exited_total\{groupname="app"\} 5$/m);
  assert.match(on, /^namedprocess_namegroup_delay_seconds_total\{groupname="app",kind="blkio"\} 0.25$/m);
  assert.match(on, /^namedprocess_namegroup_delay_seconds_total\{groupname="app",kind="reclaim"\} 0.125$/m);
  const off = await render(cycle(false));
  assert.match(off, /^namedprocess_namegroup_delay_seconds_total\{groupname="app",kind="cpu"\} 0.5$/m);
  assert.doesNotMatch(off, /kind="blkio"/, 'kernel.task_delayacct=0: no block I/O delay series');
  assert.doesNotMatch(off, /kind="swapin"|kind="reclaim"/);
});
