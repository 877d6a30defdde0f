/**
 * The PromQL of deploy/grafana/procgroup-dashboard.json, with Grafana's variables replaced by what
 * "All" selects, so Prometheus (promtool, a live server) can check them.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export const DASHBOARD_FILE = path.resolve(import.meta.dirname, '../../deploy/grafana/procgroup-dashboard.json');

export interface DashboardQuery {
  panel: string;
  refId: string;
  expr: string;
}

interface Panel {
  title?: string;
  type?: string;
  targets?: { refId?: string; expr?: string }[];
  panels?: Panel[];
}

export function dashboard(): { panels: Panel[]; templating: { list: { name: string; query?: unknown }[] } } {
  return JSON.parse(readFileSync(DASHBOARD_FILE, 'utf8'));
}

/** Every panel query, variables substituted: $instance and $groupname match all, $__rate_interval = `rateInterval`. */
export function dashboardQueries(rateInterval = '1m'): DashboardQuery[] {
  const flat = (ps: Panel[]): Panel[] => ps.flatMap((p) => [p, ...flat(p.panels ?? [])]);
  return flat(dashboard().panels).flatMap((p) =>
    (p.targets ?? []).map((t) => ({
      panel: p.title ?? '',
      refId: t.refId ?? '',
      expr: (t.expr ?? '')
        .replaceAll('$__rate_interval', rateInterval)
        .replaceAll('$instance', '.*')
        .replaceAll('$groupname', '.*'),
    })),
  );
}
