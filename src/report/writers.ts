/**
 * Report writers: CSV for spreadsheets, JSON and YAML for scripts, an aligned table for the terminal.
 * Rows come source by source, each source's rows followed by its total row (kind `total`, named
 * after the source).
 */
import { stringify as yamlStringify } from 'yaml';
import type { Report, ReportRow } from './build.js';
import { STATS } from './query.js';

export type OutputFormat = 'csv' | 'json' | 'yaml' | 'table';
export const OUTPUT_FORMATS: readonly OutputFormat[] = ['csv', 'json', 'yaml', 'table'];

function allRows(report: Report): ReportRow[] {
  return report.sources.flatMap((s) => [...s.rows, s.total]);
}

/**
 * 12 significant digits: far finer than CPU accounting resolves, and it drops the last-bit noise
 * of Prometheus's running means (2.8125000000000004 -> 2.8125).
 */
const SIGNIFICANT_DIGITS = 12;

export function tidy(n: number): number {
  return Number.isFinite(n) ? Number(n.toPrecision(SIGNIFICANT_DIGITS)) : n;
}

/** Shortest decimal of the tidied value, with Prometheus's spelling of the non-finite values. */
export function formatNumber(n: number): string {
  if (Number.isFinite(n)) return String(tidy(n));
  return Number.isNaN(n) ? 'NaN' : n > 0 ? '+Inf' : '-Inf';
}

const CSV_COLUMNS = ['kind', 'namespace', 'name', 'instance', ...STATS] as const;

function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function toCsv(report: Report): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of allRows(report)) {
    const fields = [r.kind, r.namespace ?? '', r.name, r.instance ?? '', ...STATS.map((s) => formatNumber(r[s]))];
    lines.push(fields.map(csvField).join(','));
  }
  return `${lines.join('\n')}\n`;
}

/** The document JSON and YAML share: what was asked, how each source was computed, the rows. */
function toDocument(report: Report): Record<string, unknown> {
  return {
    url: report.url,
    at: report.at.toISOString(),
    range: report.window.range,
    ...(report.window.step !== undefined ? { step: report.window.step } : {}),
    unit: 'cores',
    sortBy: report.sortBy,
    sources: report.sources.map((s) => ({ source: s.source, basis: s.basis, expression: s.expression })),
    ...(report.missing.length > 0 ? { missing: report.missing } : {}),
    rows: allRows(report).map((r) => ({
      kind: r.kind,
      ...(r.namespace !== undefined ? { namespace: r.namespace } : {}),
      name: r.name,
      ...(r.instance !== undefined ? { instance: r.instance } : {}),
      avg: tidy(r.avg),
      min: tidy(r.min),
      max: tidy(r.max),
    })),
  };
}

export function toJson(report: Report): string {
  return `${JSON.stringify(toDocument(report), null, 2)}\n`;
}

export function toYaml(report: Report): string {
  return yamlStringify(toDocument(report), { lineWidth: 0 });
}

/** Millicore resolution is what a person reads; the other formats keep full precision. */
const TABLE_DECIMALS = 3;

export function toTable(report: Report): string {
  const rows = allRows(report);
  const textColumns = (['kind', 'namespace', 'name', 'instance'] as const).filter(
    (c) => c === 'kind' || c === 'name' || rows.some((r) => (r[c] ?? '') !== ''),
  );
  const header = [...textColumns, ...STATS].map((c) => c.toUpperCase());
  const body = rows.map((r) => [
    ...textColumns.map((c) => r[c] ?? ''),
    ...STATS.map((s) => (Number.isFinite(r[s]) ? tidy(r[s]).toFixed(TABLE_DECIMALS) : formatNumber(r[s]))),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((cells) => (cells[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (i < textColumns.length ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[header, ...body].map(line).join('\n')}\n`;
}

export const WRITERS: Readonly<Record<OutputFormat, (report: Report) => string>> = {
  csv: toCsv,
  json: toJson,
  yaml: toYaml,
  table: toTable,
};
