/**
 * PromQL for the report: per source (host process groups, pods) the recorded series, the raw
 * expression it records, the exclusions, and the avg/min/max queries over the range.
 * Pure string building; nothing here talks to Prometheus.
 */

export type SourceName = 'groups' | 'pods';
export type Stat = 'avg' | 'min' | 'max';
export type Basis = 'rule' | 'raw';

export const STATS: readonly Stat[] = ['avg', 'min', 'max'];
export const SOURCE_NAMES: readonly SourceName[] = ['groups', 'pods'];

export interface Exclusions {
  /** anchored regex (RE2, as Prometheus matches) for the exporter's own pod and process group */
  exporterName: string;
  /** namespaces whose pods are left out */
  skipNamespaces: readonly string[];
}

/** Where one source's per-second CPU rate comes from, and how its series map to report rows. */
export interface SourceSpec {
  source: SourceName;
  /** name of the recorded series (the recording rule's `record:`) */
  rule: string;
  /** the counter the rule is computed from */
  rawCounter: string;
  /** the rule's expression with the given label matchers on the raw counter */
  rawExpr(matchers: string): string;
  /** label matchers leaving out what the report excludes; several: series matching any of them */
  matchers(ex: Exclusions): readonly string[];
  /** which labels identify a row */
  rowKey(labels: Readonly<Record<string, string>>): RowIdentity;
}

export interface RowIdentity {
  name: string;
  namespace?: string;
  instance?: string;
}

/** A PromQL string literal. JSON string escapes are a subset of what PromQL (Go) accepts. */
export function promString(s: string): string {
  return JSON.stringify(s);
}

/**
 * Host (non-pod) process groups, the same split as the recording rules in rules/: a group labelled
 * `class` is a host group when the class is `host` (config/examples/openshift-containers.yaml:
 * host | infra | workload); a group without a class label (config/default.yaml, process-exporter,
 * which cannot label groups) is one unless it is a runtime's per-container monitor, the group every
 * pod folds into under the classic PPID == 1 config. Pods are reported from their own metric.
 */
export const HOST_GROUP_MATCHERS: readonly string[] = ['class="host"', 'class="",groupname!~"conmon.*|containerd-shim.*"'];

export const GROUPS: SourceSpec = {
  source: 'groups',
  rule: 'namedprocess_namegroup_cpu_rate',
  rawCounter: 'namedprocess_namegroup_cpu_seconds_total',
  rawExpr: (m) => `sum without(mode) (irate(namedprocess_namegroup_cpu_seconds_total{${m}}[30s]))`,
  matchers: (ex) => HOST_GROUP_MATCHERS.map((m) => `${m},groupname!~${promString(ex.exporterName)}`),
  rowKey: (l) => ({ name: l['groupname'] ?? '', instance: l['instance'] ?? '' }),
};

export const PODS: SourceSpec = {
  source: 'pods',
  rule: 'pod:container_cpu_usage:sum',
  rawCounter: 'container_cpu_usage_seconds_total',
  rawExpr: (m) => `sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{container!="",pod!="",${m}}[5m]))`,
  matchers: (ex) => [[`pod!~${promString(ex.exporterName)}`, ...ex.skipNamespaces.map((ns) => `namespace!=${promString(ns)}`)].join(',')],
  rowKey: (l) => ({ name: l['pod'] ?? '', namespace: l['namespace'] ?? '' }),
};

export const SOURCES: Readonly<Record<SourceName, SourceSpec>> = { groups: GROUPS, pods: PODS };

/**
 * Probe whether `basis` has any sample in the range ending at the query time. The rule counts as
 * present when its recorded series has data there (what the report needs), not when some
 * Prometheus lists it in /api/v1/rules: the query endpoint may be a Thanos Querier or a
 * federating server that holds the data but evaluates no rules itself.
 */
export function probeQuery(spec: SourceSpec, basis: Basis, range: string): string {
  return `count(last_over_time(${basis === 'rule' ? spec.rule : spec.rawCounter}[${range}]))`;
}

/** The per-second CPU rate series of the source, exclusions applied. */
export function seriesExpr(spec: SourceSpec, basis: Basis, ex: Exclusions): string {
  // the alternatives select disjoint series (they differ in a label value): `or` is their union
  return spec
    .matchers(ex)
    .map((m) => (basis === 'rule' ? `${spec.rule}{${m}}` : spec.rawExpr(m)))
    .join(' or ');
}

/** The range and evaluation step of the over_time subqueries. */
export interface Window {
  /** Prometheus duration, e.g. 1h */
  range: string;
  /** subquery resolution; undefined means the server's evaluation interval, the step its rules run at */
  step?: string | undefined;
}

function subquery(expr: string, w: Window): string {
  return `(${expr})[${w.range}:${w.step ?? ''}]`;
}

/**
 * avg/min/max of each series over the range. Recorded and raw series alike are sampled as a
 * subquery at the same steps as the total, so for series present throughout the range a
 * total's avg is the sum of its rows' avgs.
 */
export function rowsQuery(spec: SourceSpec, basis: Basis, ex: Exclusions, stat: Stat, w: Window): string {
  return `${stat}_over_time(${subquery(seriesExpr(spec, basis, ex), w)})`;
}

/**
 * avg/min/max over the range of the source's sum: the min and max of a total are those of the
 * summed series over time, not the sum of each row's min or max.
 */
export function totalQuery(spec: SourceSpec, basis: Basis, ex: Exclusions, stat: Stat, w: Window): string {
  return `${stat}_over_time(${subquery(`sum(${seriesExpr(spec, basis, ex)})`, w)})`;
}
