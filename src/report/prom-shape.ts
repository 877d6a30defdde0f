/**
 * The seed's `prom metrics` output: one table of every host process group and every pod, rows keyed
 * `uniqueId`, columns `avg over <interval>`, `min over <interval>`, `max over <interval>` (CPU in
 * cores), as CSV, or column by column (column -> uniqueId -> value) as JSON and YAML, the layout of
 * a pandas DataFrame's to_json()/to_dict(). Built from the same Report as `report`; totals are not
 * rows of the seed's table and are left out.
 */
import { stringify as yamlStringify } from 'yaml';
import type { Report, ReportRow } from './build.js';
import { STATS, type Stat } from './query.js';
import { formatNumber, tidy } from './writers.js';

export type PromOutput = 'csv' | 'json' | 'yaml';
export const PROM_OUTPUTS: readonly PromOutput[] = ['csv', 'json', 'yaml'];

/** head: largest first (the top of the sorted table); tail: smallest first */
export type PromOrder = 'head' | 'tail';

export interface PromTable {
  columns: Record<Stat, string>;
  rows: { uniqueId: string; values: Record<Stat, number> }[];
}

/** `<instance>/<groupname>` for a host process group, `<namespace>/<pod>` for a pod. */
export function uniqueId(row: ReportRow): string {
  return row.kind === 'pod' ? `${row.namespace ?? ''}/${row.name}` : `${row.instance ?? ''}/${row.name}`;
}

export function promTable(report: Report, opts: { interval: string; order: PromOrder }): PromTable {
  const by = report.sortBy;
  const sign = opts.order === 'head' ? -1 : 1;
  const rows = report.sources
    .flatMap((s) => s.rows)
    .map((r) => ({ uniqueId: uniqueId(r), values: { avg: r.avg, min: r.min, max: r.max } }))
    .sort((a, b) => sign * (a.values[by] - b.values[by]) || (a.uniqueId < b.uniqueId ? -1 : a.uniqueId > b.uniqueId ? 1 : 0));
  const columns = { avg: `avg over ${opts.interval}`, min: `min over ${opts.interval}`, max: `max over ${opts.interval}` };
  return { columns, rows };
}

function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function promCsv(t: PromTable): string {
  const lines = [['uniqueId', ...STATS.map((s) => t.columns[s])].map(csvField).join(',')];
  for (const r of t.rows) lines.push([csvField(r.uniqueId), ...STATS.map((s) => formatNumber(r.values[s]))].join(','));
  return `${lines.join('\n')}\n`;
}

/** column -> uniqueId -> value; non-finite values become null, as in pandas' JSON */
function byColumn(t: PromTable): Record<string, Record<string, number | null>> {
  const doc: Record<string, Record<string, number | null>> = {};
  for (const s of STATS) {
    const column: Record<string, number | null> = {};
    for (const r of t.rows) column[r.uniqueId] = Number.isFinite(r.values[s]) ? tidy(r.values[s]) : null;
    doc[t.columns[s]] = column;
  }
  return doc;
}

export function promJson(t: PromTable): string {
  return `${JSON.stringify(byColumn(t), null, 2)}\n`;
}

export function promYaml(t: PromTable): string {
  return yamlStringify(byColumn(t), { lineWidth: 0 });
}

export const PROM_WRITERS: Readonly<Record<PromOutput, (t: PromTable) => string>> = { csv: promCsv, json: promJson, yaml: promYaml };
