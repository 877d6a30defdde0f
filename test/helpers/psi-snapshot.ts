/** Builds CycleSnapshots whose groups carry only what the PSI collector reads: name, labels, members. */
import { newGroupSnapshot } from '../../src/grouper/grouper.js';
import { newProcessMember } from '../../src/tracker/updates.js';
import type { CycleSnapshot, GroupSnapshot, ProcessMember } from '../../src/grouper/snapshot.js';

export interface GroupSpec {
  name: string;
  labels?: Record<string, string>;
  members: ReadonlyArray<Pick<ProcessMember, 'pid'> & Partial<ProcessMember>>;
}

export function psiSnapshot(cycle: number, groups: readonly GroupSpec[]): CycleSnapshot {
  return {
    timeMs: Date.now(),
    intervalSeconds: 0,
    durationSeconds: 0,
    cycle,
    groups: groups.map((g): GroupSnapshot => {
      const members = g.members.map((m): ProcessMember => newProcessMember({ startTime: 0, comm: 'test', ...m }));
      const labels = g.labels ?? {};
      return { ...newGroupSnapshot(`${g.name}${JSON.stringify(labels)}`, g.name, labels, new Map()), numProcs: members.length, numThreads: members.length, members };
    }),
    host: { user: 0, system: 0, unaccounted: 0 },
    errors: { scrapeErrors: 0, procReadErrors: 0, partialErrors: 0, byFile: new Map() },
  };
}
