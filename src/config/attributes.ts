import type { ContainerIdentity } from '../cgroup/types.js';

/**
 * What matchers and name/label templates see of one process. Cheap fields come from `stat`;
 * the methods read files on first use and cache the result for the life of the process identity,
 * so unmatched processes cost no more than the reads their rules need.
 */
export interface ProcessAttributes {
  readonly pid: number;
  readonly ppid: number;
  /** kernel comm (up to 15 bytes) */
  readonly comm: string;
  /** unix seconds (boot time + starttime ticks / USER_HZ) */
  readonly startTimeSeconds: number;
  /**
   * Known only from an exit record (comm, pid, ppid, uid): no cmdline, exe, cgroup or container,
   * so a rule that needs any of them does not match.
   */
  readonly partial?: boolean;
  /** argv; empty for kernel threads and zombies */
  cmdline(): readonly string[];
  /** name of the real uid, or the uid as a decimal string when unknown */
  username(): string;
  /** cgroup paths from /proc/<pid>/cgroup, one per line (v1 hierarchies and the v2 `0::` line) */
  cgroups(): readonly string[];
  /** the cgroup v2 path (`0::` line), or undefined on a v1-only host */
  cgroupPath(): string | undefined;
  /** undefined when the process is not in a Kubernetes container/pod */
  container(): ContainerIdentity | undefined;
}

/** Outcome of matching one process: the group it joins. */
export interface GroupAssignment {
  name: string;
  /** extra labels from the rule's `labels:` (templated) */
  labels: Readonly<Record<string, string>>;
  /** index of the matching rule in `process_names` (absent for the legacy -procnames/-namemapping flags) */
  rule?: number;
  /** the rule's `threads:`; absent: the -threads flag decides */
  threads?: boolean | undefined;
}

export interface ProcessMatcher {
  /** first matching rule wins; undefined when no rule matches */
  match(p: ProcessAttributes): GroupAssignment | undefined;
  /** label names every group carries besides groupname (union over rules, sorted) */
  readonly labelNames: readonly string[];
}
