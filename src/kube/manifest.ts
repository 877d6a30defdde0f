/**
 * Kubernetes manifests as plain objects: multi-document YAML in and out, identity and ordering.
 */
import { parseAllDocuments, stringify } from 'yaml';
import { ExporterError } from '../errors.js';

export type JsonObject = { [key: string]: unknown };

export interface Manifest extends JsonObject {
  apiVersion: string;
  kind: string;
  metadata: JsonObject & { name: string; namespace?: string };
}

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function manifestError(file: string, message: string, line?: number): ExporterError {
  return new ExporterError('MANIFEST_INVALID', `${file}${line !== undefined ? `:${line}` : ''}: ${message}`);
}

/** Every document of a YAML file, each checked to be a manifest (apiVersion, kind, metadata.name). */
export function parseManifests(text: string, file: string): Manifest[] {
  const out: Manifest[] = [];
  for (const doc of parseAllDocuments(text, { prettyErrors: true })) {
    const [error] = doc.errors;
    if (error) throw manifestError(file, error.message, error.linePos?.[0].line);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue; // empty document, e.g. a trailing ---
    const line = doc.contents ? lineOf(text, doc.contents.range?.[0]) : undefined;
    out.push(asManifest(value, file, line));
  }
  return out;
}

/** One YAML document that must be a mapping (kustomization files, patches). */
export function parseYamlObject(text: string, file: string): JsonObject {
  const docs = parseAllDocuments(text, { prettyErrors: true });
  const [doc, extra] = docs;
  if (!doc || extra) throw manifestError(file, 'expected exactly one YAML document');
  const [error] = doc.errors;
  if (error) throw manifestError(file, error.message, error.linePos?.[0].line);
  const value: unknown = doc.toJS();
  if (!isObject(value)) throw manifestError(file, 'expected a mapping');
  return value;
}

function lineOf(text: string, offset: number | undefined): number | undefined {
  if (offset === undefined) return undefined;
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

function asManifest(value: unknown, file: string, line: number | undefined): Manifest {
  if (!isObject(value)) throw manifestError(file, 'a document is not a mapping', line);
  const { apiVersion, kind, metadata } = value;
  if (typeof apiVersion !== 'string' || apiVersion === '') throw manifestError(file, 'apiVersion: missing', line);
  if (typeof kind !== 'string' || kind === '') throw manifestError(file, 'kind: missing', line);
  if (!isObject(metadata) || typeof metadata['name'] !== 'string' || metadata['name'] === '') {
    throw manifestError(file, `${kind}: metadata.name: missing`, line);
  }
  return value as Manifest;
}

/** "Kind/name" or "Kind/namespace/name": how kubectl and error messages name an object. */
export function manifestId(m: Pick<Manifest, 'kind' | 'metadata'>): string {
  const ns = m.metadata.namespace;
  return ns ? `${m.kind}/${ns}/${m.metadata.name}` : `${m.kind}/${m.metadata.name}`;
}

/**
 * kustomize's "legacy" apply order: what others depend on first (Namespace, ServiceAccount, RBAC,
 * ConfigMap, ...), custom resources after the built-in kinds, then by name.
 */
const APPLY_ORDER = [
  'Namespace', 'ResourceQuota', 'StorageClass', 'CustomResourceDefinition', 'ServiceAccount',
  'PodSecurityPolicy', 'Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding', 'ConfigMap', 'Secret',
  'Endpoints', 'Service', 'LimitRange', 'PriorityClass', 'PersistentVolume', 'PersistentVolumeClaim',
  'Deployment', 'StatefulSet', 'CronJob', 'PodDisruptionBudget',
];
const APPLY_LAST = ['MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration'];

function orderKey(kind: string): number {
  const first = APPLY_ORDER.indexOf(kind);
  if (first >= 0) return first;
  const last = APPLY_LAST.indexOf(kind);
  return last >= 0 ? APPLY_ORDER.length + 1 + last : APPLY_ORDER.length;
}

export function sortForApply(manifests: readonly Manifest[]): Manifest[] {
  return [...manifests].sort(
    (a, b) =>
      orderKey(a.kind) - orderKey(b.kind) ||
      a.kind.localeCompare(b.kind) ||
      (a.metadata.namespace ?? '').localeCompare(b.metadata.namespace ?? '') ||
      a.metadata.name.localeCompare(b.metadata.name),
  );
}

/** Multi-document YAML, as `kubectl apply -f -` reads it. */
export function toYamlStream(manifests: readonly Manifest[]): string {
  return manifests.map((m) => stringify(m, { lineWidth: 0 })).join('---\n');
}
