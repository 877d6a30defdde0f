/**
 * The built-in kustomize subset against real kustomize (`kubectl kustomize`, kustomize v5 inside
 * kubectl) where it is installed, and the kustomize base's generated files against their sources.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { findExecutable } from '../../../src/kube/kubectl.js';
import { buildKustomization, configMapHash, setNamespace } from '../../../src/kube/kustomize.js';
import { manifestId, parseManifests, type Manifest } from '../../../src/kube/manifest.js';
import { CONFIG_COPY_FILE, generatedBaseFiles, renderManifests } from '../../../src/kube/render.js';

const root = path.resolve(import.meta.dirname, '../../..');
const kubectl = findExecutable('kubectl');
const noKustomize = kubectl ? false : 'kubectl (with its built-in kustomize) is not installed';

function realKustomize(dir: string): Manifest[] {
  return parseManifests(execFileSync(kubectl ?? 'kubectl', ['kustomize', dir], { encoding: 'utf8' }), `kustomize ${dir}`);
}

function byId(ms: readonly Manifest[]): Map<string, Manifest> {
  return new Map(ms.map((m) => [manifestId(m), m]));
}

function withTempDir(fn: (dir: string) => void): void {
  const dir = mkdtempSync(path.join(tmpdir(), 'pe-kustomize-'));
  try {
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('the kustomize base\'s generated files match their sources (else: npm run deploy:sync)', () => {
  for (const { file, text } of generatedBaseFiles(root)) {
    assert.equal(readFileSync(file, 'utf8'), text, `${path.relative(root, file)} is stale: run npm run deploy:sync`);
  }
});

for (const platform of ['kubernetes', 'openshift'] as const) {
  test(`deploy/${platform}: the renderer's output equals real kustomize's`, { skip: noKustomize }, () => {
    const config = { text: readFileSync(path.join(root, CONFIG_COPY_FILE), 'utf8'), file: CONFIG_COPY_FILE };
    const mine = byId(renderManifests({ platform, config, root }));
    const theirs = byId(realKustomize(path.join(root, 'deploy', platform)));
    assert.deepEqual([...mine.keys()].sort(), [...theirs.keys()].sort());
    for (const [id, m] of mine) assert.deepEqual(m, theirs.get(id), id);
  });
}

test('ConfigMap name hash: known answer from kustomize v5.5', () => {
  assert.equal(configMapHash({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: 'x' } }), '5642bm9b6f');
});

test('ConfigMap name hash equals kustomize\'s for text Go\'s JSON escapes (<, >, &, U+2028)', { skip: noKustomize }, () => {
  withTempDir((dir) => {
    writeFileSync(path.join(dir, 'b.yaml'), 'cmdline: ["a<b && c>d"]\nname: "\u2028 ünï"\n');
    writeFileSync(path.join(dir, 'a.txt'), 'second key\n');
    writeFileSync(path.join(dir, 'kustomization.yaml'), 'configMapGenerator:\n  - name: cfg\n    files: [b.yaml, key=a.txt]\n');
    const [real] = realKustomize(dir);
    const [mine] = buildKustomization(dir);
    assert.ok(real && mine);
    assert.match(real.metadata.name, /^cfg-[a-z0-9]{10}$/);
    // names only: the YAML that kubectl prints turns U+2028 into a line break on the way back in
    assert.equal(mine.metadata.name, real.metadata.name);
    assert.deepEqual(mine['data'], { 'b.yaml': 'cmdline: ["a<b && c>d"]\nname: "\u2028 ünï"\n', key: 'second key\n' });
  });
});

test('namespace: namespaced objects move, the Namespace is renamed, own service accounts follow', () => {
  const ms: Manifest[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'a' } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'sa', namespace: 'a' } },
    { apiVersion: 'scheduling.k8s.io/v1', kind: 'PriorityClass', metadata: { name: 'p' } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'b' },
      subjects: [{ kind: 'ServiceAccount', name: 'sa', namespace: 'a' }, { kind: 'ServiceAccount', name: 'prometheus-k8s', namespace: 'openshift-monitoring' }],
    },
  ];
  const out = setNamespace(ms, 'b');
  assert.deepEqual(out.map((m) => manifestId(m)), ['Namespace/b', 'ServiceAccount/b/sa', 'PriorityClass/p', 'ClusterRoleBinding/b']);
  assert.deepEqual((out[3] as any).subjects.map((s: any) => s.namespace), ['b', 'openshift-monitoring']);
  assert.equal(ms[1]?.metadata.namespace, 'a', 'input left alone');
});

test('images: tags, digests and registry ports', () => {
  withTempDir((dir) => {
    writeFileSync(path.join(dir, 'pod.yaml'), [
      'apiVersion: v1', 'kind: Pod', 'metadata: {name: p}', 'spec:', '  initContainers: [{name: i, image: "reg:5000/app"}]',
      '  containers: [{name: a, image: "app:1"}, {name: b, image: "app@sha256:00"}, {name: c, image: "reg:5000/app:2"}, {name: d, image: other}]',
    ].join('\n'));
    writeFileSync(path.join(dir, 'kustomization.yaml'), [
      'resources: [pod.yaml]', 'images:', '  - {name: app, newName: mirror/app, newTag: "9"}', '  - {name: "reg:5000/app", digest: "sha256:ff"}',
    ].join('\n'));
    const [pod] = buildKustomization(dir) as any[];
    assert.deepEqual(pod.spec.initContainers.map((c: any) => c.image), ['reg:5000/app@sha256:ff']);
    assert.deepEqual(pod.spec.containers.map((c: any) => c.image), ['mirror/app:9', 'mirror/app:9', 'reg:5000/app@sha256:ff', 'other']);
    if (kubectl) assert.deepEqual(realKustomize(dir), [pod]);
  });
});

test('kustomization fields the renderer does not implement are errors naming file and field', () => {
  withTempDir((dir) => {
    writeFileSync(path.join(dir, 'kustomization.yaml'), 'resources: []\nnamePrefix: x-\n');
    assert.throws(() => buildKustomization(dir), (err: Error) => err.message === `${path.join(dir, 'kustomization.yaml')}: namePrefix: not supported by the built-in renderer`);
    writeFileSync(path.join(dir, 'kustomization.yaml'), 'patches:\n  - path: p.yaml\n    target: {kind: Pod}\n');
    assert.throws(() => buildKustomization(dir), /patches\[0\]: only \{ path: FILE \} strategic merge patches are supported/);
    writeFileSync(path.join(dir, 'kustomization.yaml'), 'generatorOptions:\n  labels: {a: b}\n');
    assert.throws(() => buildKustomization(dir), /generatorOptions: only disableNameSuffixHash is supported/);
  });
});

test('a patch without a target is an error', () => {
  withTempDir((dir) => {
    writeFileSync(path.join(dir, 'cm.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n');
    writeFileSync(path.join(dir, 'p.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: {x: y}\n');
    writeFileSync(path.join(dir, 'kustomization.yaml'), 'resources: [cm.yaml]\npatches:\n  - path: p.yaml\n');
    assert.throws(() => buildKustomization(dir), /p\.yaml: patch target ConfigMap\/b: 0 matches/);
  });
});

test('a manifest without a name is an error with file and line', () => {
  withTempDir((dir) => {
    writeFileSync(path.join(dir, 'x.yaml'), 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Secret\nmetadata: {}\n');
    writeFileSync(path.join(dir, 'kustomization.yaml'), 'resources: [x.yaml]\n');
    assert.throws(() => buildKustomization(dir), (err: Error) => err.message === `${path.join(dir, 'x.yaml')}:5: Secret: metadata.name: missing`);
  });
});
