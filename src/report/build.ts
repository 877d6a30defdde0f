/**
 * Build the avg/min/max report: per source, pick the recorded series or the raw expression,
 * run the avg/min/max queries for the rows and for the total, and join them into sorted rows.
 */
import { ExporterError } from '../errors.js';
import type { PrometheusClient, Sample } from './prometheus-client.js';
import {
  SOURCES,
  STATS,
  probeQuery,
  rowsQuery,
  seriesExpr,
  totalQuery,
  type Basis,
  type Exclusions,
  type RowIdentity,
  type SourceName,
  type SourceSpec,
  type Stat,
  type Window,
} from './query.js';

export interface ReportOptions {
  /** end of the range; all queries of one report are evaluated at this instant */
  at: Date;
  window: Window;
  sources: readonly SourceName[];
  exclusions: Exclusions;
  sortBy: Stat;
}

export type RowKind = 'group' | 'pod' | 'total';

/** CPU in cores (CPU seconds per second) over the range. */
export interface ReportRow extends RowIdentity, Record<Stat, number> {
  kind: RowKind;
}

export interface SourceReport {
  source: SourceName;
  basis: Basis;
  /** the rate expression the figures were computed from, exclusions applied */
  expression: string;
  /** rows sorted by the chosen stat, largest first */
  rows: ReportRow[];
  total: ReportRow;
}

/** A source asked for that had no data: why, in words that say what to check. */
export interface MissingSource {
  source: SourceName;
  reason: string;
}

export interface Report {
  url: string;
  at: Date;
  window: Window;
  sortBy: Stat;
  sources: SourceReport[];
  /** sources without data; only ever non-empty when another source has some */
  missing: MissingSource[];
  /** warnings Prometheus attached to its answers */
  warnings: string[];
}

const ROW_KIND: Readonly<Record<SourceName, RowKind>> = { groups: 'group', pods: 'pod' };

type Client = Pick<PrometheusClient, 'query' | 'url'>;

export async function buildReport(client: Client, opts: ReportOptions): Promise<Report> {
  const warnings: string[] = [];
  const query = async (expr: string): Promise<Sample[]> => {
    const res = await client.query(expr, opts.at);
    warnings.push(...res.warnings);
    return res.samples;
  };
  const settled = await Promise.allSettled(opts.sources.map((s) => buildSource(SOURCES[s], query, opts)));
  const sources: SourceReport[] = [];
  const missing: MissingSource[] = [];
  settled.forEach((r, i) => {
    if (r.status === 'fulfilled') sources.push(r.value);
    else if (r.reason instanceof ExporterError && r.reason.code === 'REPORT_NO_DATA') missing.push({ source: opts.sources[i] as SourceName, reason: r.reason.message });
    else throw r.reason;
  });
  // one source without data is worth a report of the others; none with data is an error
  if (sources.length === 0) throw new ExporterError('REPORT_NO_DATA', missing.map((m) => m.reason).join('\n'));
  return { url: client.url, at: opts.at, window: opts.window, sortBy: opts.sortBy, sources, missing, warnings: [...new Set(warnings)] };
}

type Query = (expr: string) => Promise<Sample[]>;

async function hasData(query: Query, spec: SourceSpec, basis: Basis, range: string): Promise<boolean> {
  return (await query(probeQuery(spec, basis, range))).length > 0;
}

/** Recorded series when it has samples in the range, else the raw counter, else no data. */
async function chooseBasis(query: Query, spec: SourceSpec, opts: ReportOptions): Promise<Basis> {
  // one after the other: the raw probe reads every raw series of the range, skip it when the rule has data
  if (await hasData(query, spec, 'rule', opts.window.range)) return 'rule';
  if (await hasData(query, spec, 'raw', opts.window.range)) return 'raw';
  throw new ExporterError(
    'REPORT_NO_DATA',
    `${spec.source}: no data in the ${opts.window.range} before ${opts.at.toISOString()}: neither the recorded series ${spec.rule} nor the raw counter ${spec.rawCounter} has samples there. ` +
      (spec.source === 'groups'
        ? 'Is procgroup-exporter deployed and scraped by this Prometheus? '
        : 'Does this Prometheus scrape the kubelet (cAdvisor)? ') +
      `Is --at right? (--source ${spec.source === 'groups' ? 'pods' : 'groups'} reports without this source)`,
  );
}

function labelKey(labels: Readonly<Record<string, string>>): string {
  return JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

function compareRows(by: Stat): (a: ReportRow, b: ReportRow) => number {
  const text = (r: ReportRow): string => `${r.name}\u0000${r.namespace ?? ''}\u0000${r.instance ?? ''}`;
  return (a, b) => b[by] - a[by] || (text(a) < text(b) ? -1 : text(a) > text(b) ? 1 : 0);
}

async function buildSource(spec: SourceSpec, query: Query, opts: ReportOptions): Promise<SourceReport> {
  const basis = await chooseBasis(query, spec, opts);
  const { exclusions: ex, window } = opts;
  const [perStat, totals] = await Promise.all([
    Promise.all(STATS.map((stat) => query(rowsQuery(spec, basis, ex, stat, window)))),
    Promise.all(STATS.map((stat) => query(totalQuery(spec, basis, ex, stat, window)))),
  ]);

  const rows = new Map<string, ReportRow>();
  STATS.forEach((stat, i) => {
    for (const sample of perStat[i] ?? []) {
      const key = labelKey(sample.labels);
      let row = rows.get(key);
      if (!row) {
        row = { kind: ROW_KIND[spec.source], ...spec.rowKey(sample.labels), avg: NaN, min: NaN, max: NaN };
        rows.set(key, row);
      }
      row[stat] = sample.value;
    }
  });
  if (rows.size === 0) {
    throw new ExporterError(
      'REPORT_NO_DATA',
      `${spec.source}: ${seriesExpr(spec, basis, ex)} has no data in the ${window.range} before ${opts.at.toISOString()} once the exclusions are applied`,
    );
  }
  const total: ReportRow = { kind: 'total', name: spec.source, avg: NaN, min: NaN, max: NaN };
  STATS.forEach((stat, i) => {
    const sample = totals[i]?.[0];
    if (sample) total[stat] = sample.value;
  });
  return {
    source: spec.source,
    basis,
    expression: seriesExpr(spec, basis, ex),
    rows: [...rows.values()].sort(compareRows(opts.sortBy)),
    total,
  };
}
