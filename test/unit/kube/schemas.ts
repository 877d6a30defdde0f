/**
 * Checks manifests against the published schemas, three ways:
 * - kubernetes-models and @kubernetes-models/prometheus-operator: their ajv validators, compiled
 *   from the Kubernetes OpenAPI spec and the prometheus-operator CRDs (types, enums, required fields);
 * - the same packages' TypeScript interfaces, through the compiler: excess-property checks find
 *   unknown (misspelt) fields at any depth, which the OpenAPI schemas allow and the API server
 *   would silently drop;
 * - SecurityContextConstraints (no model package) against the OpenShift API's own schema of it, as
 *   shipped in openshift-rest-client, with unknown fields rejected.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Ajv } from 'ajv';
import ts from 'typescript';
import type { Manifest } from '../../../src/kube/manifest.js';
import { manifestId } from '../../../src/kube/manifest.js';

const root = path.resolve(import.meta.dirname, '../../..');

/** The module holding the model of an apiVersion, or undefined when no model package covers it. */
function modelModule(apiVersion: string): string | undefined {
  if (apiVersion === 'v1') return 'kubernetes-models/v1';
  if (apiVersion === 'monitoring.coreos.com/v1') return '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
  if (apiVersion.startsWith('security.openshift.io/')) return undefined;
  return `kubernetes-models/${apiVersion}`;
}

type ModelClass = new (data: unknown) => { validate(): void };

/** Problems the kubernetes-models ajv validators find (one line each), or SCC schema problems. */
export async function schemaProblems(m: Manifest): Promise<string[]> {
  if (m.apiVersion === 'security.openshift.io/v1' && m.kind === 'SecurityContextConstraints') return sccProblems(m);
  const module = modelModule(m.apiVersion);
  if (!module) return [`${manifestId(m)}: no schema known for ${m.apiVersion}`];
  const exports = (await import(module)) as Record<string, ModelClass | undefined>;
  const Model = exports[m.kind];
  if (!Model) return [`${manifestId(m)}: ${module} has no model for ${m.kind}`];
  try {
    new Model(m).validate();
    return [];
  } catch (err) {
    return [`${manifestId(m)}: ${err instanceof Error ? err.message : String(err)}`];
  }
}

/**
 * Unknown and mistyped fields, from type-checking each manifest as an object literal of the model's
 * interface (I<Kind>). SecurityContextConstraints are left to sccProblems.
 */
export function typeProblems(manifests: readonly Manifest[]): string[] {
  const checked = manifests.filter((m) => modelModule(m.apiVersion) !== undefined);
  const lines = checked.map(
    (m, i) => `import type { I${m.kind} as T${i} } from '${modelModule(m.apiVersion) ?? ''}'; export const m${i}: T${i} = ${JSON.stringify(m)};`,
  );
  const file = path.join(root, 'test/unit/kube/__manifests_typecheck__.ts');
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    target: ts.ScriptTarget.ES2022,
    types: [],
  };
  const host = ts.createCompilerHost(options);
  const source = ts.createSourceFile(file, lines.join('\n'), ts.ScriptTarget.ES2022, true);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (name, ...rest) => (path.resolve(name) === file ? source : getSourceFile(name, ...rest));
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (name) => path.resolve(name) === file || fileExists(name);
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line : -1;
    const m = checked[line];
    return `${m ? manifestId(m) : '?'}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
  });
}

const SCC_DEFINITION = 'com.github.openshift.api.security.v1.SecurityContextConstraints';
let sccValidator: ReturnType<Ajv['compile']> | undefined;

/** The OpenShift API's schema of SecurityContextConstraints, every object closed to unknown fields. */
function sccValidate(): ReturnType<Ajv['compile']> {
  if (sccValidator) return sccValidator;
  const require = createRequire(import.meta.url);
  const specFile = path.join(path.dirname(require.resolve('openshift-rest-client/package.json')), 'lib/specs/openshift-openapi-spec.json.gz');
  const spec = JSON.parse(gunzipSync(readFileSync(specFile)).toString('utf8')) as { definitions: Record<string, Record<string, unknown>> };
  const definitions = Object.fromEntries(
    Object.entries(spec.definitions).map(([name, def]) => [
      name,
      def['properties'] && def['additionalProperties'] === undefined ? { ...def, additionalProperties: false } : def,
    ]),
  );
  // OpenAPI v2 keywords and formats (int32, x-kubernetes-*) are not JSON Schema: ignore, do not fail.
  const ajv = new Ajv({ strict: false, validateFormats: false, allErrors: true });
  sccValidator = ajv.compile({ $ref: `#/definitions/${SCC_DEFINITION}`, definitions });
  return sccValidator;
}

export function sccProblems(m: Manifest): string[] {
  const validate = sccValidate();
  if (validate(m)) return [];
  return (validate.errors ?? []).map(
    (e) => `${manifestId(m)}: ${e.instancePath || '/'} ${e.message ?? e.keyword}${e.keyword === 'additionalProperties' ? ` (${JSON.stringify(e.params)})` : ''}`,
  );
}
