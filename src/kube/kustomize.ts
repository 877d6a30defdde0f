/**
 * Builds a kustomization directory the way `kustomize build` does, for the features deploy/ uses:
 * resources (files and directories), configMapGenerator (with kustomize's content-hash name suffix),
 * patches (strategic merge, by path), namespace and images. Any other kustomization field is an
 * error rather than silently ignored. Tests compare the output with real kustomize's.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import {
  isObject, manifestError, parseManifests, parseYamlObject, type JsonObject, type Manifest,
} from './manifest.js';
import { strategicMerge } from './strategic-merge.js';

export interface KustomizeInputs {
  /** Reads a file the kustomization refers to (resources, generator files, patches). */
  readFile(file: string): string;
}

const FILE_INPUTS: KustomizeInputs = { readFile: (file) => readFileSync(file, 'utf8') };

const KUSTOMIZATION_FIELDS = new Set([
  'apiVersion', 'kind', 'namespace', 'resources', 'configMapGenerator', 'generatorOptions', 'images', 'patches',
]);

/** Kinds without a namespace (the ones deploy/ uses and their usual neighbours). */
const CLUSTER_SCOPED = new Set([
  'Namespace', 'PriorityClass', 'ClusterRole', 'ClusterRoleBinding', 'SecurityContextConstraints',
  'CustomResourceDefinition', 'StorageClass', 'PersistentVolume', 'Node',
  'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration',
]);

function isClusterScoped(kind: string): boolean {
  return CLUSTER_SCOPED.has(kind);
}

export function buildKustomization(dir: string, inputs: KustomizeInputs = FILE_INPUTS): Manifest[] {
  const file = path.join(dir, 'kustomization.yaml');
  const k = parseYamlObject(inputs.readFile(file), file);
  for (const key of Object.keys(k)) {
    if (!KUSTOMIZATION_FIELDS.has(key)) throw manifestError(file, `${key}: not supported by the built-in renderer`);
  }

  let manifests: Manifest[] = [];
  for (const entry of stringList(k, 'resources', file)) {
    const p = path.resolve(dir, entry);
    manifests.push(...(isDirectory(p) ? buildKustomization(p, inputs) : parseManifests(inputs.readFile(p), p)));
  }

  const options = k['generatorOptions'] ?? {};
  if (!isObject(options) || Object.keys(options).some((key) => key !== 'disableNameSuffixHash')) {
    throw manifestError(file, 'generatorOptions: only disableNameSuffixHash is supported by the built-in renderer');
  }
  const renamed = new Map<string, string>();
  const hashNames = options['disableNameSuffixHash'] !== true;
  for (const [i, gen] of objectList(k, 'configMapGenerator', file).entries()) {
    const cm = generateConfigMap(gen, dir, inputs, `${file}: configMapGenerator[${i}]`);
    if (hashNames) {
      const hashed = `${cm.metadata.name}-${configMapHash(cm)}`;
      renamed.set(cm.metadata.name, hashed);
      cm.metadata.name = hashed;
    }
    manifests.push(cm);
  }

  for (const [i, p] of objectList(k, 'patches', file).entries()) {
    if (typeof p['path'] !== 'string' || Object.keys(p).length !== 1) {
      throw manifestError(file, `patches[${i}]: only { path: FILE } strategic merge patches are supported`);
    }
    const patchFile = path.resolve(dir, p['path']);
    manifests = applyPatch(manifests, parseYamlObject(inputs.readFile(patchFile), patchFile), patchFile);
  }

  const namespace = k['namespace'];
  if (namespace !== undefined) {
    if (typeof namespace !== 'string' || namespace === '') throw manifestError(file, 'namespace: must be a name');
    manifests = setNamespace(manifests, namespace);
  }

  for (const [i, image] of objectList(k, 'images', file).entries()) {
    if (typeof image['name'] !== 'string') throw manifestError(file, `images[${i}].name: missing`);
    manifests = manifests.map((m) => setImage(m, image));
  }

  return renamed.size > 0 ? manifests.map((m) => renameConfigMapRefs(m, renamed)) : manifests;
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false; // a file the inputs may supply
  }
}

function stringList(k: JsonObject, field: string, file: string): string[] {
  const v = k[field];
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every((e): e is string => typeof e === 'string')) {
    throw manifestError(file, `${field}: must be a list of strings`);
  }
  return v;
}

function objectList(k: JsonObject, field: string, file: string): JsonObject[] {
  const v = k[field];
  if (v === undefined) return [];
  if (!Array.isArray(v) || !v.every(isObject)) throw manifestError(file, `${field}: must be a list of mappings`);
  return v;
}

function generateConfigMap(gen: JsonObject, dir: string, inputs: KustomizeInputs, where: string): Manifest {
  const name = gen['name'];
  if (typeof name !== 'string' || name === '') throw manifestError(where, 'name: missing');
  for (const key of Object.keys(gen)) {
    if (key !== 'name' && key !== 'files') throw manifestError(where, `${key}: not supported by the built-in renderer`);
  }
  const data: Record<string, string> = {};
  for (const entry of stringList(gen, 'files', where)) {
    const eq = entry.indexOf('=');
    const key = eq >= 0 ? entry.slice(0, eq) : path.basename(entry);
    data[key] = inputs.readFile(path.resolve(dir, eq >= 0 ? entry.slice(eq + 1) : entry));
  }
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data };
}

/**
 * kustomize's generated-name suffix: sha256 of the Go-JSON encoding of {data, kind, name}, first 10
 * hex digits with 0,1,3,a,e swapped for letters (so it can never read as a number or a word).
 * kustomize v5 looks the name up as a single "metadata/name" key, finds nothing and hashes an empty
 * name; the same here, so both give the same suffix (the unit tests compare with real kustomize).
 */
export function configMapHash(cm: Manifest): string {
  const data = isObject(cm['data']) ? cm['data'] : {};
  const sorted = Object.fromEntries(Object.keys(data).sort().map((key) => [key, data[key]]));
  const json = goJson({ data: sorted, kind: 'ConfigMap', name: '' });
  const hex = createHash('sha256').update(json).digest('hex').slice(0, 10);
  const swap: Record<string, string> = { '0': 'g', '1': 'h', '3': 'k', a: 'm', e: 't' };
  return [...hex].map((c) => swap[c] ?? c).join('');
}

/** JSON as Go's encoding/json writes it: HTML-significant characters and U+2028/9 escaped. */
function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function applyPatch(manifests: Manifest[], patch: JsonObject, file: string): Manifest[] {
  const { apiVersion, kind, metadata } = patch;
  if (typeof apiVersion !== 'string' || typeof kind !== 'string' || !isObject(metadata) || typeof metadata['name'] !== 'string') {
    throw manifestError(file, 'a patch needs apiVersion, kind and metadata.name to find its target');
  }
  const matches = (m: Manifest): boolean =>
    m.apiVersion === apiVersion && m.kind === kind && m.metadata.name === metadata['name'] &&
    (metadata['namespace'] === undefined || m.metadata.namespace === metadata['namespace']);
  const hits = manifests.filter(matches);
  if (hits.length !== 1) {
    throw manifestError(file, `patch target ${kind}/${String(metadata['name'])}: ${hits.length} matches, need exactly 1`);
  }
  return manifests.map((m) => (matches(m) ? (strategicMerge(m, patch, { apiVersion, kind, file }) as Manifest) : m));
}

/**
 * kustomize's namespace transformer: namespaced objects move to `namespace`, the Namespace object is
 * renamed, and (Cluster)RoleBinding subjects naming one of these service accounts follow them.
 */
export function setNamespace(manifests: readonly Manifest[], namespace: string): Manifest[] {
  const accounts = new Set(
    manifests.filter((m) => m.kind === 'ServiceAccount').map((m) => `${m.metadata.namespace ?? ''}/${m.metadata.name}`),
  );
  return manifests.map((m) => {
    const out = structuredClone(m);
    if (m.kind === 'Namespace') out.metadata.name = namespace;
    else if (!isClusterScoped(m.kind)) out.metadata.namespace = namespace;
    if ((m.kind === 'RoleBinding' || m.kind === 'ClusterRoleBinding') && Array.isArray(out['subjects'])) {
      for (const s of out['subjects']) {
        if (!isObject(s) || s['kind'] !== 'ServiceAccount') continue;
        const ns = s['namespace'];
        if (ns === undefined || accounts.has(`${String(ns)}/${String(s['name'])}`)) s['namespace'] = namespace;
      }
    }
    return out;
  });
}

/** The pod spec of a workload object, or undefined for other kinds. */
export function podSpecOf(m: Manifest): JsonObject | undefined {
  const spec = m['spec'];
  if (!isObject(spec)) return undefined;
  if (m.kind === 'Pod') return spec;
  const template = m.kind === 'CronJob' && isObject(spec['jobTemplate']) && isObject(spec['jobTemplate']['spec'])
    ? spec['jobTemplate']['spec']['template']
    : spec['template'];
  return isObject(template) && isObject(template['spec']) ? template['spec'] : undefined;
}

export function containersOf(podSpec: JsonObject): JsonObject[] {
  return ['initContainers', 'containers'].flatMap((field) => {
    const list = podSpec[field];
    return Array.isArray(list) ? list.filter(isObject) : [];
  });
}

/** kustomize `images`: containers whose image is `name` (with any tag or digest) get newName/newTag/digest. */
function setImage(m: Manifest, image: JsonObject): Manifest {
  const out = structuredClone(m);
  const podSpec = podSpecOf(out);
  if (!podSpec) return out;
  const name = String(image['name']);
  for (const c of containersOf(podSpec)) {
    const current = c['image'];
    if (typeof current !== 'string') continue;
    const ref = splitImage(current);
    if (ref.name !== name) continue;
    const newName = typeof image['newName'] === 'string' ? image['newName'] : ref.name;
    if (typeof image['digest'] === 'string') c['image'] = `${newName}@${image['digest']}`;
    else if (image['newTag'] !== undefined) c['image'] = `${newName}:${String(image['newTag'])}`;
    else c['image'] = `${newName}${ref.suffix}`;
  }
  return out;
}

function splitImage(image: string): { name: string; suffix: string } {
  const at = image.indexOf('@');
  if (at >= 0) return { name: image.slice(0, at), suffix: image.slice(at) };
  const colon = image.lastIndexOf(':');
  // a colon before the last slash belongs to a registry port, not a tag
  if (colon > image.lastIndexOf('/')) return { name: image.slice(0, colon), suffix: image.slice(colon) };
  return { name: image, suffix: '' };
}

/** Points pod templates at the hashed names of generated ConfigMaps (kustomize's name references). */
function renameConfigMapRefs(m: Manifest, renamed: ReadonlyMap<string, string>): Manifest {
  const out = structuredClone(m);
  const podSpec = podSpecOf(out);
  if (!podSpec) return out;
  const rename = (holder: unknown): void => {
    if (!isObject(holder) || typeof holder['name'] !== 'string') return;
    const to = renamed.get(holder['name']);
    if (to !== undefined) holder['name'] = to;
  };
  for (const v of Array.isArray(podSpec['volumes']) ? podSpec['volumes'] : []) {
    if (!isObject(v)) continue;
    rename(v['configMap']);
    const sources = isObject(v['projected']) ? v['projected']['sources'] : undefined;
    for (const s of Array.isArray(sources) ? sources : []) if (isObject(s)) rename(s['configMap']);
  }
  for (const c of containersOf(podSpec)) {
    for (const e of Array.isArray(c['envFrom']) ? c['envFrom'] : []) if (isObject(e)) rename(e['configMapRef']);
    for (const e of Array.isArray(c['env']) ? c['env'] : []) {
      if (isObject(e) && isObject(e['valueFrom'])) rename(e['valueFrom']['configMapKeyRef']);
    }
  }
  return out;
}
