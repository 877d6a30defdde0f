import { spawnSync } from 'node:child_process';

/**
 * Lint lines `promtool check metrics` (2.42) prints for names this exporter must keep:
 * - namedprocess_*: process-exporter's names, kept for drop-in compatibility with its dashboards
 *   and recording rules (its scrape error counters lack _total; thread_count is a gauge).
 * - nodejs_active_*_total: prom-client's default process metrics, gauges named with _total.
 * Every other line, and any parse error, is a failure.
 */
export const ACCEPTED_LINT_LINES: ReadonlySet<string> = new Set([
  'namedprocess_namegroup_thread_count non-histogram and non-summary metrics should not have "_count" suffix',
  'namedprocess_scrape_errors counter metrics should have "_total" suffix',
  'namedprocess_scrape_partial_errors counter metrics should have "_total" suffix',
  'namedprocess_scrape_procread_errors counter metrics should have "_total" suffix',
  'nodejs_active_handles_total non-counter metrics should not have "_total" suffix',
  'nodejs_active_requests_total non-counter metrics should not have "_total" suffix',
  'nodejs_active_resources_total non-counter metrics should not have "_total" suffix',
]);

export function promtoolAvailable(): boolean {
  return spawnSync('promtool', ['--version']).status === 0;
}

/** Runs `promtool check metrics` on an exposition; returns the problems not accepted above ([] = clean). */
export function promtoolProblems(exposition: string): string[] {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  if (r.error) throw r.error;
  const lines = `${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.trim() !== '');
  const problems = lines.filter((l) => !ACCEPTED_LINT_LINES.has(l));
  // exit 0: clean, 3: lint findings only (all accepted above, or listed in problems); anything else: parse error
  if (r.status !== 0 && r.status !== 3 && problems.length === 0) problems.push(`promtool exited with ${String(r.status)}`);
  return problems;
}
