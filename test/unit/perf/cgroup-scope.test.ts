import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chooseCgroups, parseCpuList } from '../../../src/perf/cgroup-scope.js';

test('cpu lists of /sys/devices/system/cpu/online', () => {
  assert.deepEqual(parseCpuList('0-1\n'), [0, 1]);
  assert.deepEqual(parseCpuList('0\n'), [0]);
  assert.deepEqual(parseCpuList('0-3,6,8-9\n'), [0, 1, 2, 3, 6, 8, 9]);
  assert.deepEqual(parseCpuList(''), []);
});

const POD_A = '/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0a1b2c3d_0000_4000_8000_000000000001.slice';
const POD_B = '/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0a1b2c3d_0000_4000_8000_000000000002.slice';
const ctr = (pod: string, n: number) => `${pod}/crio-${String(n).repeat(64)}.scope`;
const conmon = (pod: string, n: number) => `${pod}/crio-conmon-${String(n).repeat(64)}.scope`;
const isContainer = (p: string) => p.includes('kubepods-') && p.includes('-pod');

test('a group holding every pod is counted on the kubepods cgroup itself', () => {
  const choice = chooseCgroups([
    { key: 'conmon', paths: [conmon(POD_A, 1), ctr(POD_A, 2), ctr(POD_A, 2), conmon(POD_B, 3), ctr(POD_B, 4)] },
    { key: 'crio', paths: ['/system.slice/crio.service'] },
  ], isContainer);
  assert.deepEqual(choice.get('conmon'), { kind: 'cgroups', paths: ['/kubepods.slice'] });
  assert.deepEqual(choice.get('crio'), { kind: 'not-container' });
});

test('groups of different pods climb to their pod cgroup, not past a cgroup another group uses', () => {
  const choice = chooseCgroups([
    { key: 'a', paths: [ctr(POD_A, 1)] },
    { key: 'b', paths: [ctr(POD_B, 2), conmon(POD_B, 3)] },
  ], isContainer);
  assert.deepEqual(choice.get('a'), { kind: 'cgroups', paths: ['/kubepods.slice/kubepods-besteffort.slice'] });
  assert.deepEqual(choice.get('b'), { kind: 'cgroups', paths: ['/kubepods.slice/kubepods-burstable.slice'] });
  const samePod = chooseCgroups([
    { key: 'app', paths: [ctr(POD_A, 1)] },
    { key: 'sidecar', paths: [ctr(POD_A, 2)] },
  ], isContainer);
  assert.deepEqual(samePod.get('app'), { kind: 'cgroups', paths: [ctr(POD_A, 1)] });
  assert.deepEqual(samePod.get('sidecar'), { kind: 'cgroups', paths: [ctr(POD_A, 2)] });
});

test('two groups in one container cgroup are "shared"; host processes and unknown cgroups are not containers', () => {
  const choice = chooseCgroups([
    { key: 'app', paths: [ctr(POD_A, 1)] },
    { key: 'debug', paths: [ctr(POD_A, 1)] },
    { key: 'mixed', paths: [ctr(POD_B, 2), '/system.slice/sshd.service'] },
    { key: 'unknown', paths: [ctr(POD_B, 3), undefined] },
    { key: 'empty', paths: [] },
  ], isContainer);
  assert.deepEqual(choice.get('app'), { kind: 'shared' });
  assert.deepEqual(choice.get('debug'), { kind: 'shared' });
  assert.deepEqual(choice.get('mixed'), { kind: 'not-container' });
  assert.deepEqual(choice.get('unknown'), { kind: 'not-container' });
  assert.deepEqual(choice.get('empty'), { kind: 'not-container' });
});

test('cgroupfs driver paths climb to /kubepods; nothing climbs out of the kubepods hierarchy', () => {
  const choice = chooseCgroups([
    { key: 'pods', paths: ['/kubepods/besteffort/pod0a1b2c3d-0000-4000-8000-000000000001/' + 'c'.repeat(64)] },
    { key: 'nested', paths: ['/system.slice/kind.scope/kubelet.slice/kubelet-kubepods.slice/kubelet-kubepods-pod1.slice/x.scope'] },
  ], (p) => p.includes('pod'));
  assert.deepEqual(choice.get('pods'), { kind: 'cgroups', paths: ['/kubepods'] });
  assert.deepEqual(choice.get('nested'), { kind: 'cgroups', paths: ['/system.slice/kind.scope/kubelet.slice/kubelet-kubepods.slice'] });
});
