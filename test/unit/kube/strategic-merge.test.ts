import assert from 'node:assert/strict';
import { test } from 'node:test';
import { strategicMerge } from '../../../src/kube/strategic-merge.js';

const ds = { apiVersion: 'apps/v1', kind: 'DaemonSet', file: 'patch.yaml' };

test('maps merge, null removes a field, the inputs are left alone', () => {
  const target = { spec: { a: 1, b: { c: 2, d: 3 } } };
  const out = strategicMerge(target, { spec: { b: { c: 4, d: null }, e: 5 } }, ds);
  assert.deepEqual(out, { spec: { a: 1, b: { c: 4 }, e: 5 } });
  assert.deepEqual(target, { spec: { a: 1, b: { c: 2, d: 3 } } });
});

test('containers merge by name: patch elements first, then the rest; args are replaced', () => {
  const target = { containers: [{ name: 'a', args: ['1', '2'], image: 'x' }, { name: 'b' }] };
  const out = strategicMerge(target, { containers: [{ name: 'a', args: ['3'] }, { name: 'c' }] }, ds);
  assert.deepEqual(out, { containers: [{ name: 'a', args: ['3'], image: 'x' }, { name: 'c' }, { name: 'b' }] });
});

test('volumeMounts merge by mountPath, container ports by containerPort and protocol', () => {
  const target = {
    volumeMounts: [{ name: 'v', mountPath: '/a' }],
    ports: [{ containerPort: 1, protocol: 'TCP', name: 'x' }, { containerPort: 1, protocol: 'UDP', name: 'y' }],
  };
  const out = strategicMerge(target, { volumeMounts: [{ mountPath: '/a', readOnly: true }], ports: [{ containerPort: 1, protocol: 'UDP', name: 'z' }] }, ds);
  assert.deepEqual(out, {
    volumeMounts: [{ name: 'v', mountPath: '/a', readOnly: true }],
    ports: [{ containerPort: 1, protocol: 'UDP', name: 'z' }, { containerPort: 1, protocol: 'TCP', name: 'x' }],
  });
});

test('Service ports merge by port and protocol; a patch element without them is an error', () => {
  const svc = { apiVersion: 'v1', kind: 'Service', file: 'svc.yaml' };
  const target = { spec: { ports: [{ port: 9256, protocol: 'TCP', name: 'metrics', targetPort: 'metrics' }] } };
  assert.deepEqual(strategicMerge(target, { spec: { ports: [{ port: 9256, protocol: 'TCP', name: 'https', targetPort: 'https' }] } }, svc), {
    spec: { ports: [{ port: 9256, protocol: 'TCP', name: 'https', targetPort: 'https' }] },
  });
  assert.throws(() => strategicMerge(target, { spec: { ports: [{ port: 9256, name: 'https' }] } }, svc), /svc\.yaml: spec\.ports: every element needs its merge keys \(port, protocol\)/);
});

test('lists of custom resources are replaced, never merged', () => {
  const sm = { apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', file: 'sm.yaml' };
  const out = strategicMerge({ spec: { endpoints: [{ port: 'metrics', interval: '15s' }] } }, { spec: { endpoints: [{ port: 'https' }] } }, sm);
  assert.deepEqual(out, { spec: { endpoints: [{ port: 'https' }] } });
});

test('patch directives are rejected', () => {
  assert.throws(() => strategicMerge({ containers: [] }, { containers: [{ name: 'a', $patch: 'delete' }] }, ds), /patch\.yaml: containers\.\$patch: patch directives are not supported/);
});
