/** Builds CycleSnapshots whose groups carry only what the PSI collector reads: name, labels, members. */
import type { CycleSnapshot, GroupSnapshot, ProcessMember } from '../../src/grouper/snapshot.js';

export interface GroupSpec {
  name: string;
  labels?: Record<string, string>;
  members: ReadonlyArray<Pick<ProcessMember, 'pid'> & Partial<ProcessMember>>;
}

export function psiSnapshot(cycle: number, groups: readonly GroupSpec[]): CycleSnapshot {
  return {
    timeMs: Date.now(),
    durationSeconds: 0,
    cycle,
    groups: groups.map((g): GroupSnapshot => {
      const members = g.members.map((m): ProcessMember => ({
        pid: m.pid, startTime: m.startTime ?? 0, comm: m.comm ?? 'test', cgroupPath: m.cgroupPath, numThreads: m.numThreads ?? 1,
      }));
      const labels = g.labels ?? {};
      return {
        key: `${g.name}${JSON.stringify(labels)}`,
        name: g.name,
        labels,
        numProcs: members.length,
        numThreads: members.length,
        openFds: 0,
        worstFdRatio: 0,
        oldestStartTime: undefined,
        memory: { resident: 0, virtual: 0, swapped: 0, proportionalResident: undefined, proportionalSwapped: undefined },
        states: { running: 0, sleeping: 0, waiting: 0, zombie: 0, other: 0 },
        cpu: { user: 0, system: 0 },
        readBytes: 0,
        writeBytes: 0,
        majorFaults: 0,
        minorFaults: 0,
        voluntaryCtxSwitches: 0,
        nonvoluntaryCtxSwitches: 0,
        threads: new Map(),
        members,
      };
    }),
    host: { user: 0, system: 0, unaccounted: 0 },
    errors: { scrapeErrors: 0, procReadErrors: 0, partialErrors: 0, byCause: new Map() },
  };
}
