/**
 * The perf policy, cycle by cycle, on groups -> members written in the test: no root, no
 * filesystem, no perf_event_open. `Counting` stands for the collector: it closes what a plan does
 * not keep, opens what the policy admits (one fd per thread and event), and keeps the budget.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { kubeletCgroupRoot } from '../../../src/cgroup/container-id.js';
import type { Cgroup2Mount } from '../../../src/cgroup/mountinfo.js';
import type { PerfScope } from '../../../src/perf/options.js';
import { PerfPolicy, type CyclePlan, type GroupScope, type OpenStep, type PolicyCapabilities, type PolicyGroup, type PolicyMember } from '../../../src/perf/policy.js';

const POD_A = '/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0a1b2c3d_0000_4000_8000_000000000001.slice';
const POD_B = '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0a1b2c3d_0000_4000_8000_000000000002.slice';
const ctr = (pod: string, n: number): string => `${pod}/crio-${String(n).repeat(64)}.scope`;
const MOUNT: Cgroup2Mount = { directory: '/sys/fs/cgroup', root: '/', origin: 'test' };
/** 2 events; a cgroup takes 4 CPUs x 2 events */
const CAPS: PolicyCapabilities = { events: 2, tasksVisible: true, cgroup: { mount: MOUNT, fdsPerCgroup: 8 } };

const m = (pid: number, numThreads = 1, cgroupPath?: string, startTime = 1000): PolicyMember => ({ pid, startTime, numThreads, cgroupPath });
const g = (name: string, members: PolicyMember[]): PolicyGroup => ({ key: name, name, members });

interface Open { groupKey: string; fds: number }

interface CycleResult {
  plan: CyclePlan;
  steps: OpenStep[];
  /** group -> skip reason */
  skipped: Map<string, string>;
  /** groups counted again after being skipped */
  fitAgain: string[];
  closed: string[];
}

class Counting {
  readonly tasks = new Map<string, Open>();
  readonly cgroups = new Map<string, Open>();
  used = 0;

  constructor(readonly policy: PerfPolicy, readonly limit: number, readonly caps: PolicyCapabilities = CAPS) {}

  get available(): number {
    return Math.max(0, this.limit - this.used);
  }

  cycle(groups: PolicyGroup[]): CycleResult {
    const plan = this.policy.plan(groups, this.caps);
    const closed: string[] = [];
    // the read: a last reading of what is not kept, then close
    for (const [id, o] of this.tasks) {
      if (plan.keepTasks.get(id)?.groupKey === o.groupKey) continue;
      this.close(this.tasks, id);
      closed.push(id);
    }
    for (const [p, o] of this.cgroups) {
      if (plan.keepCgroups.get(p)?.groupKey === o.groupKey) continue;
      this.close(this.cgroups, p);
      closed.push(p);
    }
    const steps = this.policy.opens(plan, {
      hasTask: (id) => this.tasks.has(id),
      hasCgroup: (p, key) => this.cgroups.get(p)?.groupKey === key,
    });
    const skipped = new Map<string, string>();
    const fitAgain: string[] = [];
    for (const step of steps) {
      const admission = this.policy.admit(step, this);
      if (!admission.open) {
        skipped.set(step.groupKey, admission.reason);
        for (const map of [this.tasks, this.cgroups]) for (const [k, o] of map) if (o.groupKey === step.groupKey) this.close(map, k);
        continue;
      }
      for (const t of step.tasks) this.open(this.tasks, `${t.pid}:${t.startTime}`, step.groupKey, t.numThreads * this.caps.events);
      for (const c of step.cgroups) this.open(this.cgroups, c.path, step.groupKey, this.caps.cgroup?.fdsPerCgroup ?? 0);
      if (this.policy.opened(step.groupKey)) fitAgain.push(step.groupKey);
    }
    this.policy.endCycle(groups);
    return { plan, steps, skipped, fitAgain, closed };
  }

  private open(map: Map<string, Open>, key: string, groupKey: string, fds: number): void {
    map.set(key, { groupKey, fds });
    this.used += fds;
  }

  private close(map: Map<string, Open>, key: string): void {
    this.used -= map.get(key)?.fds ?? 0;
    map.delete(key);
  }
}

const scopeKinds = (plan: CyclePlan): Record<string, GroupScope['kind']> =>
  Object.fromEntries([...plan.scopes].map(([k, s]) => [k, s.kind]));

test('scope choice: container groups on their cgroups, everything else per process or not at all', () => {
  const host = '/system.slice/crio.service';
  const cases: Array<{ name: string; scope: PerfScope; caps?: Partial<PolicyCapabilities>; groups: PolicyGroup[]; want: Record<string, GroupScope['kind']>; notices?: string[] }> = [
    {
      name: 'whole group in one container cgroup -> cgroup scope; host group -> task',
      scope: 'auto',
      groups: [g('app', [m(10, 1, ctr(POD_A, 1)), m(11, 1, ctr(POD_A, 1))]), g('crio', [m(20, 1, host)])],
      want: { app: 'cgroup', crio: 'task' },
    },
    {
      name: 'one member outside the pod -> task scope',
      scope: 'auto',
      groups: [g('mixed', [m(10, 1, ctr(POD_A, 1)), m(11, 1, host)])],
      want: { mixed: 'task' },
    },
    {
      name: 'a member whose cgroup is unknown -> task scope',
      scope: 'auto',
      groups: [g('app', [m(10, 1, ctr(POD_A, 1)), m(11, 1, undefined)])],
      want: { app: 'task' },
    },
    {
      name: 'two groups in one container cgroup -> both per process, each named once',
      scope: 'auto',
      groups: [g('app', [m(10, 1, ctr(POD_A, 1))]), g('sidecar', [m(11, 1, ctr(POD_A, 1))]), g('b', [m(12, 1, ctr(POD_B, 2))])],
      want: { app: 'task', sidecar: 'task', b: 'cgroup' },
      notices: ['app shared task', 'sidecar shared task'],
    },
    {
      name: 'scope cgroup: only container groups are counted; a shared one is not counted either',
      scope: 'cgroup',
      groups: [g('app', [m(10, 1, ctr(POD_A, 1))]), g('sidecar', [m(11, 1, ctr(POD_A, 1))]), g('b', [m(12, 1, ctr(POD_B, 2))]), g('crio', [m(20, 1, host)])],
      want: { app: 'none', sidecar: 'none', b: 'cgroup', crio: 'none' },
      notices: ['app shared none', 'sidecar shared none'],
    },
    {
      name: 'scope task: containers too are counted per process',
      scope: 'task',
      groups: [g('app', [m(10, 1, ctr(POD_A, 1))])],
      want: { app: 'task' },
    },
    {
      name: 'no cgroup scope on this machine (auto) -> per process',
      scope: 'auto',
      caps: { cgroup: undefined },
      groups: [g('app', [m(10, 1, ctr(POD_A, 1))])],
      want: { app: 'task' },
    },
    {
      name: 'another PID namespace: no task scope, containers still on their cgroups',
      scope: 'auto',
      caps: { tasksVisible: false },
      groups: [g('app', [m(10, 1, ctr(POD_A, 1))]), g('crio', [m(20, 1, host)])],
      want: { app: 'cgroup', crio: 'none' },
    },
    {
      name: 'container cgroups outside the cgroup2 mount\'s root -> per process, named',
      scope: 'auto',
      caps: { cgroup: { mount: { ...MOUNT, root: '/system.slice' }, fdsPerCgroup: 8 } },
      groups: [g('app', [m(10, 1, ctr(POD_A, 1))])],
      want: { app: 'task' },
      notices: ['app hidden task'],
    },
  ];
  for (const c of cases) {
    const policy = new PerfPolicy({ scope: c.scope });
    const plan = policy.plan(c.groups, { ...CAPS, ...c.caps });
    assert.deepEqual(scopeKinds(plan), c.want, c.name);
    assert.deepEqual(plan.notices.map((n) => `${n.groupName} ${n.reason} ${n.fallback}`), c.notices ?? [], c.name);
  }
});

test('a container group is counted on the highest cgroup only it uses, resolved under the mount', () => {
  const policy = new PerfPolicy({ scope: 'auto' });
  const plan = policy.plan([g('app', [m(10, 1, ctr(POD_A, 1)), m(11, 1, ctr(POD_A, 2))]), g('b', [m(12, 1, ctr(POD_B, 3))])], CAPS);
  assert.deepEqual(plan.scopes.get('app'), {
    kind: 'cgroup',
    targets: [{ path: '/kubepods.slice/kubepods-besteffort.slice', directory: '/sys/fs/cgroup/kubepods.slice/kubepods-besteffort.slice', groupKey: 'app' }],
  });
  assert.deepEqual([...plan.keepCgroups.keys()].sort(), ['/kubepods.slice/kubepods-besteffort.slice', '/kubepods.slice/kubepods-burstable.slice']);
  assert.deepEqual([...plan.keepTasks.keys()], [], 'no task counters for cgroup-scoped groups');
  assert.equal(policy.wantsCgroups(CAPS), true);
  assert.equal(new PerfPolicy({ scope: 'task' }).wantsCgroups(CAPS), false, 'task scope never needs members\' cgroups');
  assert.equal(policy.wantsCgroups({ ...CAPS, cgroup: undefined }), false);
});

test('only pods at the kubelet\'s cgroup root are containers: a kubepods chain below a user cgroup is counted per process', () => {
  const spoofed = g('spoofed', [m(10, 1, `/user.slice/user-1000.slice/user@1000.service${ctr(POD_A, 1)}`)]);
  const kind = g('kind', [m(11, 1, ctr('/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod0a1b2c3d_0000_4000_8000_000000000003.slice', 2))]);
  const atRoot = new PerfPolicy({ scope: 'auto' }).plan([spoofed, kind], CAPS);
  assert.deepEqual(scopeKinds(atRoot), { spoofed: 'task', kind: 'task' });
  const atKind = new PerfPolicy({ scope: 'auto', kubeletCgroupRoot: kubeletCgroupRoot('/kubelet.slice') }).plan([spoofed, kind], CAPS);
  assert.deepEqual(scopeKinds(atKind), { spoofed: 'task', kind: 'cgroup' });
});

test('members joining are opened, members leaving are closed, a reused pid is a new process', () => {
  const c = new Counting(new PerfPolicy({ scope: 'task' }), 100);
  const cases: Array<{ name: string; members: PolicyMember[]; opened: string[]; closed: string[]; used: number }> = [
    { name: 'first cycle: every member', members: [m(1, 3), m(2)], opened: ['1:1000', '2:1000'], closed: [], used: 8 },
    { name: 'unchanged: nothing', members: [m(1, 3), m(2)], opened: [], closed: [], used: 8 },
    { name: 'one joins, one leaves', members: [m(1, 3), m(3, 2)], opened: ['3:1000'], closed: ['2:1000'], used: 10 },
    { name: 'pid 3 reused by another process', members: [m(1, 3), m(3, 1, undefined, 2000)], opened: ['3:2000'], closed: ['3:1000'], used: 8 },
    { name: 'all leave', members: [], opened: [], closed: ['1:1000', '3:2000'], used: 0 },
  ];
  for (const k of cases) {
    const r = c.cycle([g('web', k.members)]);
    assert.deepEqual(r.steps.flatMap((s) => s.tasks.map((t) => `${t.pid}:${t.startTime}`)), k.opened, k.name);
    assert.deepEqual(r.closed, k.closed, k.name);
    assert.equal(c.used, k.used, k.name);
    assert.deepEqual([...r.plan.keepTasks.values()].map((t) => t.groupKey), k.members.map(() => 'web'), k.name);
  }
});

test('a member moving to another group is closed in the old one and opened in the new one', () => {
  const c = new Counting(new PerfPolicy({ scope: 'task' }), 100);
  c.cycle([g('a', [m(1)]), g('b', [])]);
  const r = c.cycle([g('a', []), g('b', [m(1)])]);
  assert.deepEqual(r.closed, ['1:1000']);
  assert.deepEqual(r.steps.map((s) => s.groupKey), ['b']);
  assert.equal(c.tasks.get('1:1000')?.groupKey, 'b');
});

test('fd budget: a group that does not fit is skipped whole, counted per cycle, and counted once room is made', () => {
  const policy = new PerfPolicy({ scope: 'task' });
  const c = new Counting(policy, 10);
  // 2 events: small needs 2 x 1 thread x 2 = 4 fds, busy 4 threads x 2 = 8
  const groups = (small: PolicyMember[]): PolicyGroup[] => [g('small', small), g('busy', [m(9, 4)])];
  const cycles: Array<{ small: PolicyMember[]; skipped: Record<string, string>; counts: Record<string, number>; fitAgain: string[]; used: number }> = [
    { small: [m(1), m(2)], skipped: { busy: 'needs 8 more fds, 6 of 10 free' }, counts: { busy: 1 }, fitAgain: [], used: 4 },
    { small: [m(1), m(2)], skipped: { busy: 'needs 8 more fds, 6 of 10 free' }, counts: { busy: 2 }, fitAgain: [], used: 4 },
    { small: [], skipped: {}, counts: { busy: 2 }, fitAgain: ['busy'], used: 8 },
    { small: [m(3)], skipped: {}, counts: { busy: 2 }, fitAgain: [], used: 10 },
  ];
  for (const [i, k] of cycles.entries()) {
    const r = c.cycle(groups(k.small));
    assert.deepEqual(Object.fromEntries(r.skipped), k.skipped, `cycle ${i + 1}`);
    assert.deepEqual(Object.fromEntries(policy.skipCounts), k.counts, `cycle ${i + 1}`);
    assert.deepEqual(r.fitAgain, k.fitAgain, `cycle ${i + 1}`);
    assert.equal(c.used, k.used, `cycle ${i + 1}`);
    assert.ok(c.used <= c.limit);
  }
  assert.equal(policy.isSkipped('busy'), false);
  c.cycle([g('small', [m(3)])]);
  assert.deepEqual(Object.fromEntries(policy.skipCounts), {}, 'a group that left is forgotten');
});

test('fd budget: groups already counted are opened first, so a newcomer never pushes one out', () => {
  const policy = new PerfPolicy({ scope: 'task' });
  const c = new Counting(policy, 6);
  c.cycle([g('old', [m(1)])]);
  assert.equal(c.used, 2);
  // the newcomer is listed first; old gains a member: old is served first and the newcomer does not fit
  const r = c.cycle([g('new', [m(5), m(6)]), g('old', [m(1), m(2)])]);
  assert.deepEqual(r.steps.map((s) => [s.groupKey, s.need]), [['old', 2], ['new', 4]]);
  assert.deepEqual(Object.fromEntries(r.skipped), { new: 'needs 4 more fds, 2 of 6 free' });
  // skipped groups come last, after newcomers
  const r2 = c.cycle([g('new', [m(5), m(6)]), g('old', [m(1), m(2)]), g('newer', [m(7)])]);
  assert.deepEqual(r2.steps.map((s) => s.groupKey), ['newer', 'new']);
  assert.deepEqual(Object.fromEntries(r2.skipped), { new: 'needs 4 more fds, 0 of 6 free' });
});

test('fd budget: the bound counts at least one thread per member, and cgroups by their fds', () => {
  const policy = new PerfPolicy({ scope: 'auto' });
  const plan = policy.plan([g('zero', [m(1, 0)]), g('app', [m(10, 1, ctr(POD_A, 1))])], CAPS);
  const steps = policy.opens(plan, { hasTask: () => false, hasCgroup: () => false });
  assert.deepEqual(steps.map((s) => [s.groupKey, s.need]), [['zero', 2], ['app', 8]]);
});

test('fd budget: a group whose members all left stops being skipped; one hit by the open-file limit is skipped', () => {
  const policy = new PerfPolicy({ scope: 'task' });
  const c = new Counting(policy, 4);
  c.cycle([g('big', [m(1, 3)])]);
  assert.equal(policy.isSkipped('big'), true);
  c.cycle([g('big', [])]);
  assert.equal(policy.isSkipped('big'), false, 'nothing to count: not skipped');
  assert.deepEqual(Object.fromEntries(policy.skipCounts), { big: 1 }, 'the cycles it was skipped in stay counted');

  // EMFILE while opening an admitted group: the collector reports it, the group is skipped until it opens
  const plan = policy.plan([g('big', [m(2)])], CAPS);
  const [step] = policy.opens(plan, { hasTask: () => false, hasCgroup: () => false });
  assert.deepEqual(policy.admit(step as OpenStep, { available: 4, limit: 4 }), { open: true });
  policy.skip('big');
  policy.endCycle(plan.groups);
  assert.equal(policy.isSkipped('big'), true);
  assert.deepEqual(Object.fromEntries(policy.skipCounts), { big: 2 });
  assert.equal(policy.opened('big'), true, 'counted again: it had been skipped');
  assert.equal(policy.opened('big'), false);
});

test('a member whose counters cannot be opened is not tried again while it lives; a skipped group keeps nothing open', () => {
  const policy = new PerfPolicy({ scope: 'task' });
  const open = { hasTask: () => false, hasCgroup: () => false };
  const groups = [g('web', [m(1), m(2)])];
  policy.openFailed('2:1000');
  const ids = (): string[] => policy.opens(policy.plan(groups, CAPS), open).flatMap((s) => s.tasks.map((t) => `${t.pid}:${t.startTime}`));
  assert.deepEqual(ids(), ['1:1000']);
  policy.endCycle(groups);
  assert.deepEqual(ids(), ['1:1000'], 'still a member: not retried');
  policy.endCycle([g('web', [m(1)])]);
  assert.deepEqual(ids(), ['1:1000', '2:1000'], 'forgotten once it left: a new process with its identity is tried');

  const skipping = new Counting(new PerfPolicy({ scope: 'task' }), 2);
  skipping.cycle([g('big', [m(1, 2)])]);
  assert.deepEqual([...skipping.policy.plan([g('big', [m(1, 2)])], CAPS).keepTasks.keys()], [], 'a skipped group keeps no counter open');
});
