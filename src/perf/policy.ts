/**
 * perf policy: how each group is counted, which counters stay open, which are opened, and which
 * groups are skipped for the fd budget. No I/O: the perf collector feeds it the cycle's groups ->
 * members and what is open, applies its answers through the counter scopes, and renders.
 *
 * One cycle, in this order:
 *   1. plan(): each group's scope (task, cgroup or none) and the counters that stay open. The
 *      collector's read takes a last reading of every other counter and closes it: members that
 *      left or whose pid was reused (identity is pid + start time), groups that changed scope or
 *      are skipped.
 *   2. opens(), after that read: what each group lacks and the fds it takes at most, groups already
 *      counted first, then new ones, then skipped ones, so a newcomer never pushes out a counted group.
 *   3. admit(), per group in that order, against the fds free at that moment: the group is opened
 *      whole or skipped whole (never counted in part). The collector asks with the budget as the
 *      groups before it left it, since a group may take fewer fds than its bound (threads that
 *      exited, tree-inherited members that need none).
 */
import { DEFAULT_KUBELET_CGROUP_ROOT, parseContainerCgroup, type KubeletCgroupRoot } from '../cgroup/container-id.js';
import { resolveCgroup, type Cgroup2Mount } from '../cgroup/mountinfo.js';
import { chooseCgroups, type CgroupTarget } from './cgroup-scope.js';
import type { PerfScope } from './options.js';
import { identityKey, type TaskMember } from './task-scope.js';

/** What the policy reads of a member (ProcessMember has it all). */
export interface PolicyMember {
  pid: number;
  /** clock ticks since boot: with pid, the identity */
  startTime: number;
  /** a task counter takes one fd per thread and event */
  numThreads: number;
  /** cgroup v2 path, where known; read only when cgroup scope is possible (wantsCgroups) */
  cgroupPath: string | undefined;
}

export interface PolicyGroup<M extends PolicyMember = PolicyMember> {
  key: string;
  name: string;
  members: readonly M[];
}

/** What counting can do this cycle (the collector's probe finds it; cgroup scope can go off later). */
export interface PolicyCapabilities {
  /** events counted: fds per thread in task scope */
  events: number;
  /** the snapshot's pids are pids perf_event_open takes (the same PID namespace) */
  tasksVisible: boolean;
  /** cgroup scope, when it works here */
  cgroup: { mount: Cgroup2Mount; fdsPerCgroup: number } | undefined;
}

export type GroupScope = { kind: 'task' } | { kind: 'none' } | { kind: 'cgroup'; targets: CgroupTarget[] };

/** A container group that cannot be counted on its cgroups, and how it is counted instead. */
export interface ScopeNotice {
  groupKey: string;
  groupName: string;
  /** shared: its container cgroups also hold another group's members; hidden: not under the cgroup2 mount */
  reason: 'shared' | 'hidden';
  fallback: 'task' | 'none';
}

export interface CyclePlan<M extends PolicyMember = PolicyMember> {
  groups: ReadonlyArray<PolicyGroup<M>>;
  capabilities: PolicyCapabilities;
  scopes: ReadonlyMap<string, GroupScope>;
  /** task counters that stay open, by identity; every other one is read a last time and closed */
  keepTasks: ReadonlyMap<string, TaskMember>;
  /** cgroup counters that stay open, by cgroup path; every other one is read a last time and closed */
  keepCgroups: ReadonlyMap<string, CgroupTarget>;
  notices: ScopeNotice[];
}

/** What is open after the read (TaskScope and CgroupScope answer). */
export interface OpenCounters {
  /** counted already: own counters, or (tree) a counted ancestor's inherited ones */
  hasTask(id: string): boolean;
  hasCgroup(cgroupPath: string, groupKey: string): boolean;
}

/** What one group lacks. */
export interface OpenStep<M extends PolicyMember = PolicyMember> {
  groupKey: string;
  /** members to open (task scope) */
  tasks: M[];
  /** cgroups to open (cgroup scope) */
  cgroups: CgroupTarget[];
  /** fds the step takes at most */
  need: number;
}

export type Admission = { open: true } | { open: false; reason: string };

export interface PerfPolicyOptions {
  scope: PerfScope;
  /** only pods of the kubelet's own hierarchy are containers (default: at `/`) */
  kubeletCgroupRoot?: KubeletCgroupRoot | undefined;
}

export class PerfPolicy {
  private readonly scope: PerfScope;
  private readonly kubeletRoot: KubeletCgroupRoot;
  /** groups admitted since they appeared: opened before newcomers */
  private readonly counted = new Set<string>();
  private readonly skipped = new Set<string>();
  /** cycles each group has been skipped in, while it stays in the snapshot */
  private readonly skipCycles = new Map<string, number>();
  /** identities whose counters could not be opened (not for lack of fds): not retried */
  private readonly failed = new Set<string>();

  constructor(options: PerfPolicyOptions) {
    this.scope = options.scope;
    this.kubeletRoot = options.kubeletCgroupRoot ?? DEFAULT_KUBELET_CGROUP_ROOT;
  }

  /** cycles each group present now has been skipped in */
  get skipCounts(): ReadonlyMap<string, number> {
    return this.skipCycles;
  }

  isSkipped(groupKey: string): boolean {
    return this.skipped.has(groupKey);
  }

  /** whether plan() looks at members' cgroup paths this cycle (the collector reads those it lacks) */
  wantsCgroups(capabilities: PolicyCapabilities): boolean {
    return this.scope !== 'task' && capabilities.cgroup !== undefined;
  }

  /** Step 1: each group's scope and what stays open. */
  plan<M extends PolicyMember>(groups: ReadonlyArray<PolicyGroup<M>>, capabilities: PolicyCapabilities): CyclePlan<M> {
    const notices: ScopeNotice[] = [];
    const scopes = this.scopes(groups, capabilities, notices);
    const keepTasks = new Map<string, TaskMember>();
    const keepCgroups = new Map<string, CgroupTarget>();
    for (const g of groups) {
      if (this.skipped.has(g.key)) continue;
      const scope = scopes.get(g.key);
      if (scope?.kind === 'task') {
        for (const m of g.members) keepTasks.set(identityKey(m.pid, m.startTime), { pid: m.pid, startTime: m.startTime, groupKey: g.key });
      } else if (scope?.kind === 'cgroup') {
        for (const t of scope.targets) keepCgroups.set(t.path, t);
      }
    }
    return { groups, capabilities, scopes, keepTasks, keepCgroups, notices };
  }

  /**
   * Step 2, after the read: what each group lacks, in the order to open it. A skipped group that
   * has no member left is no longer skipped.
   */
  opens<M extends PolicyMember>(plan: CyclePlan<M>, open: OpenCounters): Array<OpenStep<M>> {
    const rank = (key: string): number => (this.skipped.has(key) ? 2 : this.counted.has(key) ? 0 : 1);
    const order = [...plan.groups].sort((a, b) => rank(a.key) - rank(b.key));
    const { events, cgroup } = plan.capabilities;
    const steps: Array<OpenStep<M>> = [];
    for (const g of order) {
      const scope = plan.scopes.get(g.key);
      if (!scope || scope.kind === 'none') continue;
      const tasks = scope.kind === 'task'
        ? g.members.filter((m) => {
          const id = identityKey(m.pid, m.startTime);
          return !open.hasTask(id) && !this.failed.has(id);
        })
        : [];
      const cgroups = scope.kind === 'cgroup' ? scope.targets.filter((t) => !open.hasCgroup(t.path, g.key)) : [];
      if (tasks.length === 0 && cgroups.length === 0) {
        if (g.members.length === 0) this.skipped.delete(g.key);
        continue;
      }
      // an upper bound: in tree mode covered members need none
      const need = tasks.reduce((n, m) => n + Math.max(1, m.numThreads) * events, 0) + cgroups.length * (cgroup?.fdsPerCgroup ?? 0);
      steps.push({ groupKey: g.key, tasks, cgroups, need });
    }
    return steps;
  }

  /** Step 3: whether the step fits in the fds free now; a group that does not is skipped (recorded here). */
  admit(step: OpenStep<PolicyMember>, budget: { readonly available: number; readonly limit: number }): Admission {
    if (step.need > budget.available) {
      this.skipped.add(step.groupKey);
      return { open: false, reason: `needs ${step.need} more fds, ${budget.available} of ${budget.limit} free` };
    }
    this.counted.add(step.groupKey);
    return { open: true };
  }

  /** The group's counters could not all be opened for lack of fds (the process's open-file limit). */
  skip(groupKey: string): void {
    this.skipped.add(groupKey);
  }

  /** The admitted step was opened; true when the group had been skipped until now. */
  opened(groupKey: string): boolean {
    return this.skipped.delete(groupKey);
  }

  /** A member whose counters cannot be opened for another reason than fds or exiting: not tried again. */
  openFailed(id: string): void {
    this.failed.add(id);
  }

  /** Ends the cycle: counts the cycle for each skipped group and forgets groups and members that left. */
  endCycle(groups: ReadonlyArray<PolicyGroup<PolicyMember>>): void {
    const active = new Set(groups.map((g) => g.key));
    for (const key of [...this.counted]) if (!active.has(key)) this.counted.delete(key);
    for (const key of [...this.skipped]) if (!active.has(key)) this.skipped.delete(key);
    for (const key of this.skipped) this.skipCycles.set(key, (this.skipCycles.get(key) ?? 0) + 1);
    for (const key of [...this.skipCycles.keys()]) if (!active.has(key)) this.skipCycles.delete(key);
    const members = new Set<string>();
    for (const g of groups) for (const m of g.members) members.add(identityKey(m.pid, m.startTime));
    for (const id of [...this.failed]) if (!members.has(id)) this.failed.delete(id);
  }

  private scopes(groups: ReadonlyArray<PolicyGroup<PolicyMember>>, capabilities: PolicyCapabilities, notices: ScopeNotice[]): Map<string, GroupScope> {
    const out = new Map<string, GroupScope>();
    const fallback = this.scope !== 'cgroup' && capabilities.tasksVisible ? 'task' : 'none';
    const cgroup = capabilities.cgroup;
    if (this.scope === 'task' || !cgroup) {
      for (const g of groups) out.set(g.key, { kind: fallback });
      return out;
    }
    const choices = chooseCgroups(
      groups.map((g) => ({ key: g.key, paths: g.members.map((m) => m.cgroupPath) })),
      (p) => parseContainerCgroup(p, this.kubeletRoot) !== undefined,
    );
    for (const g of groups) {
      const choice = choices.get(g.key);
      if (!choice || choice.kind === 'not-container') {
        out.set(g.key, { kind: fallback });
        continue;
      }
      const targets = choice.kind === 'cgroups'
        ? choice.paths.flatMap((p) => {
          const resolved = resolveCgroup(cgroup.mount, p);
          return resolved ? [{ path: resolved.path, directory: resolved.directory, groupKey: g.key }] : [];
        })
        : [];
      if (choice.kind === 'shared' || targets.length !== choice.paths.length) {
        notices.push({ groupKey: g.key, groupName: g.name, reason: choice.kind === 'shared' ? 'shared' : 'hidden', fallback });
        out.set(g.key, { kind: fallback });
        continue;
      }
      out.set(g.key, { kind: 'cgroup', targets });
    }
    return out;
  }
}
