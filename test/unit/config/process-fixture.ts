/**
 * Plain-data ProcessAttributes for config tests, counting every method call so tests can prove
 * that matching and naming read only what they need.
 */
import type { ContainerIdentity } from '../../../src/cgroup/types.js';
import type { ProcessAttributes } from '../../../src/config/attributes.js';

export interface ProcessData {
  pid: number;
  ppid?: number;
  comm: string;
  startTimeSeconds?: number;
  cmdline?: string[];
  username?: string;
  cgroups?: string[];
  cgroupPath?: string;
  container?: Partial<ContainerIdentity>;
}

export type Method = 'cmdline' | 'username' | 'cgroups' | 'cgroupPath' | 'container';

export interface CountingProcess extends ProcessAttributes {
  readonly calls: Record<Method, number>;
}

export function fakeProcess(d: ProcessData): CountingProcess {
  const calls: Record<Method, number> = { cmdline: 0, username: 0, cgroups: 0, cgroupPath: 0, container: 0 };
  const container: ContainerIdentity | undefined = d.container && {
    podUid: 'uid-0000', qos: 'burstable', containerId: undefined, runtime: 'crio',
    namespace: undefined, pod: undefined, container: undefined, ...d.container,
  };
  return {
    calls,
    pid: d.pid,
    ppid: d.ppid ?? 1,
    comm: d.comm,
    startTimeSeconds: d.startTimeSeconds ?? 1_700_000_000,
    cmdline: () => (calls.cmdline++, d.cmdline ?? []),
    username: () => (calls.username++, d.username ?? 'root'),
    cgroups: () => (calls.cgroups++, d.cgroups ?? (d.cgroupPath === undefined ? [] : [d.cgroupPath])),
    cgroupPath: () => (calls.cgroupPath++, d.cgroupPath),
    container: () => (calls.container++, container),
  };
}

/** Total number of file-backed attribute reads. */
export function totalCalls(p: CountingProcess): number {
  return Object.values(p.calls).reduce((a, b) => a + b, 0);
}
