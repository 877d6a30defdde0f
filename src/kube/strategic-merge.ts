/**
 * Strategic merge patch: the subset kustomize applies to the kinds in deploy/, with kustomize's results
 * (the unit tests compare with real kustomize).
 * - maps merge recursively; a `null` value removes the field;
 * - lists of built-in kinds with merge keys (containers by name, volumeMounts by mountPath, ports by
 *   port and protocol, ...) merge element by element: the patch's elements first, in its order, then
 *   the target's elements the patch did not name (kustomize prepends patch elements);
 * - other lists, and every list of a custom resource (no schema to say otherwise), are replaced.
 * Patch directives ($patch, $setElementOrder, $retainKeys, ...) are rejected, not half-applied.
 */
import { isDeepStrictEqual } from 'node:util';
import { isObject, manifestError, type JsonObject } from './manifest.js';

/** merge keys (x-kubernetes-list-map-keys) of the list fields of core/apps objects */
const MERGE_KEYS: Readonly<Record<string, readonly string[]>> = {
  containers: ['name'],
  initContainers: ['name'],
  ephemeralContainers: ['name'],
  volumes: ['name'],
  env: ['name'],
  imagePullSecrets: ['name'],
  volumeMounts: ['mountPath'],
  volumeDevices: ['devicePath'],
  hostAliases: ['ip'],
};

/** API groups whose kinds have a schema with merge keys (apps/v1, v1, rbac, scheduling, ...) */
function isBuiltIn(apiVersion: string): boolean {
  const slash = apiVersion.indexOf('/');
  if (slash < 0) return true; // core group: "v1"
  const group = apiVersion.slice(0, slash);
  return !group.includes('.') || group.endsWith('.k8s.io');
}

function mergeKeysFor(field: string, kind: string, parentPath: readonly string[]): readonly string[] | undefined {
  if (field === 'ports') {
    return kind === 'Service' && parentPath.length === 1 && parentPath[0] === 'spec'
      ? ['port', 'protocol']
      : ['containerPort', 'protocol'];
  }
  return MERGE_KEYS[field];
}
/**
 * `target` patched by `patch` (neither is modified). `apiVersion` and `kind` are the target's: they
 * decide which lists merge. `file` names the patch in errors.
 */
export function strategicMerge(
  target: JsonObject,
  patch: JsonObject,
  { apiVersion, kind, file }: { apiVersion: string; kind: string; file: string },
): JsonObject {
  return mergeMaps(target, patch, { builtIn: isBuiltIn(apiVersion), kind, file }, []);
}

interface Ctx {
  builtIn: boolean;
  kind: string;
  file: string;
}

function mergeMaps(target: JsonObject, patch: JsonObject, ctx: Ctx, at: string[]): JsonObject {
  const out: JsonObject = { ...target };
  for (const [key, value] of Object.entries(patch)) {
    if (key.startsWith('$')) throw manifestError(ctx.file, `${[...at, key].join('.')}: patch directives are not supported`);
    if (value === null) {
      delete out[key];
      continue;
    }
    const current = out[key];
    if (isObject(value) && isObject(current)) {
      out[key] = mergeMaps(current, value, ctx, [...at, key]);
    } else if (Array.isArray(value) && Array.isArray(current) && ctx.builtIn) {
      const mergeKeys = mergeKeysFor(key, ctx.kind, at);
      out[key] = mergeKeys ? mergeLists(current, value, mergeKeys, ctx, [...at, key]) : fresh(value, ctx, [...at, key]);
    } else {
      out[key] = fresh(value, ctx, [...at, key]);
    }
  }
  return out;
}

/** A copy of a patch value that has no counterpart in the target: checked for directives, nulls dropped. */
function fresh(value: unknown, ctx: Ctx, at: string[]): unknown {
  if (Array.isArray(value)) return value.map((v) => fresh(v, ctx, at));
  if (!isObject(value)) return value;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) {
    if (k.startsWith('$')) throw manifestError(ctx.file, `${[...at, k].join('.')}: patch directives are not supported`);
    if (v !== null) out[k] = fresh(v, ctx, [...at, k]);
  }
  return out;
}

function mergeLists(target: unknown[], patch: unknown[], keys: readonly string[], ctx: Ctx, at: string[]): unknown[] {
  const keyOf = (e: unknown): unknown[] | undefined => (isObject(e) ? keys.map((k) => e[k]) : undefined);
  const merged: unknown[] = [];
  const used = new Set<number>();
  for (const element of patch) {
    const key = keyOf(element);
    if (!isObject(element) || !key || key.some((v) => v === undefined)) {
      throw manifestError(ctx.file, `${at.join('.')}: every element needs its merge keys (${keys.join(', ')})`);
    }
    const i = target.findIndex((e, j) => !used.has(j) && isDeepStrictEqual(keyOf(e), key));
    const current = target[i];
    if (i >= 0 && isObject(current)) {
      used.add(i);
      merged.push(mergeMaps(current, element, ctx, at));
    } else {
      merged.push(fresh(element, ctx, at));
    }
  }
  return [...merged, ...target.filter((_, j) => !used.has(j))];
}
