/**
 * Every manifest `deploy` renders (both platforms, default and renamed namespace) validated against
 * the Kubernetes and prometheus-operator schemas (kubernetes-models, ajv), their TypeScript models
 * (unknown fields), and the SecurityContextConstraints schema of the OpenShift API.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import type { Manifest } from '../../../src/kube/manifest.js';
import { CONFIG_COPY_FILE, PLATFORMS, renderManifests } from '../../../src/kube/render.js';
import { schemaProblems, sccProblems, typeProblems } from './schemas.js';

const root = path.resolve(import.meta.dirname, '../../..');
const config = { text: readFileSync(path.join(root, CONFIG_COPY_FILE), 'utf8'), file: CONFIG_COPY_FILE };

const variants = [
  ...PLATFORMS.flatMap((platform) => [
    { name: `${platform}`, manifests: renderManifests({ platform, config, root }) },
    { name: `${platform}, namespace node-metrics`, manifests: renderManifests({ platform, config, root, namespace: 'node-metrics' }) },
    { name: `${platform}, --perf --taskstats`, manifests: renderManifests({ platform, config, root, features: { perf: true, taskstats: true } }) },
  ]),
  { name: 'openshift user-workload', manifests: renderManifests({ platform: 'openshift', monitoring: 'user-workload', config, root }) },
  {
    name: 'openshift user-workload, namespace node-metrics',
    manifests: renderManifests({ platform: 'openshift', monitoring: 'user-workload', config, root, namespace: 'node-metrics' }),
  },
];

for (const { name, manifests } of variants) {
  test(`${name}: every manifest passes its schema`, async () => {
    const problems = (await Promise.all(manifests.map(schemaProblems))).flat();
    assert.deepEqual(problems, []);
  });
}

test('no manifest has an unknown or mistyped field (TypeScript models)', () => {
  assert.deepEqual(typeProblems(variants.flatMap((v) => v.manifests)), []);
});

test('the OpenShift variant includes a SecurityContextConstraints object, and it is checked', () => {
  const scc = variants.flatMap((v) => v.manifests).filter((m) => m.kind === 'SecurityContextConstraints');
  assert.equal(scc.length, 5);
  for (const m of scc) assert.deepEqual(sccProblems(m), []);
});

// The checks above mean something only if they reject broken manifests.
function broken(kind: string, edit: (m: any) => void): Manifest {
  const m = variants.flatMap((v) => v.manifests).find((x) => x.kind === kind);
  assert.ok(m, kind);
  const copy = structuredClone(m);
  edit(copy);
  return copy;
}

test('the schema check rejects a wrong type and a missing required field', async () => {
  const wrongType = broken('DaemonSet', (m) => {
    m.spec.template.spec.containers[0].ports[0].containerPort = '9256';
  });
  assert.match((await schemaProblems(wrongType)).join('\n'), /containerPort must be integer/);
  const noSelector = broken('ServiceMonitor', (m) => {
    delete m.spec.selector;
  });
  assert.match((await schemaProblems(noSelector)).join('\n'), /spec must have required property selector/);
});

test('the model type check rejects misspelt fields at any depth', () => {
  const problems = typeProblems([
    broken('DaemonSet', (m) => {
      m.spec.template.spec.hostPid = true;
    }),
    broken('DaemonSet', (m) => {
      m.spec.template.spec.containers[0].volumeMounts[0].readonly = true;
    }),
    broken('ServiceMonitor', (m) => {
      m.spec.endpoints[0].intervall = '15s';
    }),
  ]).join('\n');
  assert.match(problems, /'"hostPid"' does not exist in type 'IPodSpec'/);
  assert.match(problems, /'"readonly"' does not exist in type 'IVolumeMount'/);
  assert.match(problems, /'"intervall"' does not exist in type 'IEndpoint'/);
});

test('the SCC schema check rejects unknown fields and missing required ones', () => {
  const problems = sccProblems(
    broken('SecurityContextConstraints', (m) => {
      m.allowHostPid = true;
      delete m.allowHostPID;
    }),
  ).join('\n');
  assert.match(problems, /additionalProperty":"allowHostPid"/);
  assert.match(problems, /must have required property 'allowHostPID'/);
});
