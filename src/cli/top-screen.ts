/**
 * What `top` shows, as plain text lines: the groups table and one group's processes and thread
 * names. Pure, so the interactive screen and batch mode (`-once`) print the same thing.
 */
import type { GroupView, GroupsView, ProcessView } from '../collectors/groups-view.js';
import { containerText, formatBytes, matchedText } from '../server/groups-pages.js';

export const SORT_KEYS = ['cpu', 'rss', 'procs', 'threads', 'io', 'name'] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export interface ScreenState {
  sort: SortKey;
  /** substring of group names (case-insensitive); '' for all */
  filter: string;
  /** index of the highlighted row among the shown groups */
  selected: number;
  /** the group drilled into, or undefined for the groups table */
  group: string | undefined;
}

const cpu = (x: { cpuUser: number | null; cpuSystem: number | null }): number => (x.cpuUser ?? 0) + (x.cpuSystem ?? 0);
const pct = (cores: number | null): string => (cores === null ? '-' : (cores * 100).toFixed(1));
const rate = (n: number | null): string => (n === null ? '-' : `${formatBytes(Math.round(n))}/s`);
const pad = (s: string, n: number): string => (s.length > n ? s.slice(0, n) : s.padEnd(n));
const lpad = (s: string, n: number): string => s.padStart(n);

const ORDER: Record<SortKey, (a: GroupView, b: GroupView) => number> = {
  cpu: (a, b) => cpu(b) - cpu(a),
  rss: (a, b) => b.residentBytes - a.residentBytes,
  procs: (a, b) => b.processes - a.processes,
  threads: (a, b) => b.threads - a.threads,
  io: (a, b) => (b.readRate ?? 0) + (b.writeRate ?? 0) - ((a.readRate ?? 0) + (a.writeRate ?? 0)),
  name: (a, b) => a.name.localeCompare(b.name),
};

/** The groups shown for this state, in order. */
export function shownGroups(view: GroupsView, state: Pick<ScreenState, 'sort' | 'filter'>): GroupView[] {
  const f = state.filter.toLowerCase();
  return view.groups.filter((g) => g.name.toLowerCase().includes(f)).sort((a, b) => ORDER[state.sort](a, b) || a.name.localeCompare(b.name));
}

const GROUP_HEADER = `${pad('GROUP', 28)} ${lpad('PROCS', 6)} ${lpad('THREADS', 7)} ${lpad('CPU%', 6)} ${lpad('USER%', 6)} ${lpad('SYS%', 6)} ${lpad('RSS', 10)} ${lpad('READ', 11)} ${lpad('WRITE', 11)}`;

/** PSI columns (with the PSI collector on): % of the last interval some / all tasks of the group's cgroups were stalled */
const PRESSURE_COLUMNS = [['CPU', 'cpu'], ['MEM', 'memory'], ['IO', 'io']] as const;
const PRESSURE_HEADER = PRESSURE_COLUMNS.map(([title]) => `${lpad(`${title}-SOME%`, 10)} ${lpad(`${title}-FULL%`, 10)}`).join(' ');

const hasPressure = (groups: readonly GroupView[]): boolean => groups.some((g) => g.pressure !== undefined);

function pressureCells(g: GroupView): string {
  return PRESSURE_COLUMNS.map(([, resource]) => {
    const share = g.pressure?.[resource];
    return `${lpad(pct(share?.some ?? null), 10)} ${lpad(pct(share?.full ?? null), 10)}`;
  }).join(' ');
}

export function groupLine(g: GroupView, columns: { pressure: boolean } = { pressure: false }): string {
  const labels = Object.values(g.labels).filter((v) => v !== '').join(',');
  const name = labels ? `${g.name} {${labels}}` : g.name;
  return `${pad(name, 28)} ${lpad(String(g.processes), 6)} ${lpad(String(g.threads), 7)} ${lpad(pct(g.cpuUser === null ? null : cpu(g)), 6)} ${lpad(pct(g.cpuUser), 6)} ${lpad(pct(g.cpuSystem), 6)} ` +
    `${lpad(formatBytes(g.residentBytes), 10)} ${lpad(rate(g.readRate), 11)} ${lpad(rate(g.writeRate), 11)}${columns.pressure ? ` ${pressureCells(g)}` : ''}`;
}

const PROCESS_HEADER = `${lpad('PID', 8)} ${lpad('PPID', 8)} ${pad('COMM', 16)} ${lpad('CPU%', 6)} ${lpad('RSS', 10)} ${lpad('THR', 5)} ${pad('CONTAINER', 24)} MATCHED BY`;

function processLine(p: ProcessView): string {
  return `${lpad(String(p.pid), 8)} ${lpad(String(p.ppid), 8)} ${pad(p.comm, 16)} ${lpad(pct(p.cpuUser === null ? null : cpu(p)), 6)} ${lpad(formatBytes(p.residentBytes), 10)} ` +
    `${lpad(String(p.threads), 5)} ${pad(containerText(p) || '-', 24)} ${matchedText(p)}`;
}

export interface Screen {
  /** title and column header, then the rows */
  lines: string[];
  /** index in `lines` of the highlighted row, or -1 */
  highlighted: number;
}

/** The screen for `state`, `height` lines at most (0: no limit, batch mode). */
export function renderScreen(view: GroupsView | undefined, state: ScreenState, source: string, height: number): Screen {
  const when = view ? `cycle ${view.cycle}, rates over ${view.intervalSeconds.toFixed(1)} s` : 'waiting for the first cycle';
  const lines: string[] = [];
  let highlighted = -1;
  const fit = (rows: string[], reserve: number): string[] => (height > 0 ? rows.slice(0, Math.max(0, height - reserve)) : rows);
  if (state.group === undefined) {
    const groups = view ? shownGroups(view, state) : [];
    lines.push(`procgroup-exporter top: ${source}, ${when}; ${groups.length} groups, sort ${state.sort}${state.filter ? `, filter "${state.filter}"` : ''}`);
    const pressure = view !== undefined && hasPressure(view.groups);
    lines.push(pressure ? `${GROUP_HEADER} ${PRESSURE_HEADER}` : GROUP_HEADER);
    const rows = groups.map((g) => groupLine(g, { pressure }));
    // keep the highlighted row in view
    const room = height > 0 ? Math.max(1, height - 3) : rows.length;
    const first = Math.max(0, Math.min(state.selected - room + 1, rows.length - room));
    const visible = height > 0 ? rows.slice(first, first + room) : rows;
    if (groups.length) highlighted = 2 + Math.min(state.selected, groups.length - 1) - (height > 0 ? first : 0);
    lines.push(...visible);
    if (height > 0) lines.push('[up/down] select  [enter] processes  [s] sort  [/] filter  [q] quit');
  } else {
    const matching = view?.groups.filter((g) => g.name === state.group) ?? [];
    lines.push(`procgroup-exporter top: ${source}, ${when}; group "${state.group}"${matching.length ? '' : ' (gone)'}`);
    const body: string[] = [];
    for (const g of matching) {
      body.push(`${g.processes} processes, ${g.threads} threads, CPU ${pct(g.cpuUser === null ? null : cpu(g))}% (user ${pct(g.cpuUser)}%, system ${pct(g.cpuSystem)}%), RSS ${formatBytes(g.residentBytes)}`);
      body.push(PROCESS_HEADER, ...g.members.map(processLine), '');
      if (g.threadNames.length) {
        body.push(`${pad('THREAD NAME', 20)} ${lpad('COUNT', 6)} ${lpad('CPU%', 6)} ${lpad('CPU SECONDS', 12)}`);
        for (const t of g.threadNames) body.push(`${pad(t.name, 20)} ${lpad(String(t.count), 6)} ${lpad(pct(t.cpuUser === null ? null : cpu(t)), 6)} ${lpad(t.cpuSecondsTotal.toFixed(2), 12)}`);
      }
    }
    lines.push(...fit(body, 2));
    if (height > 0) lines.push('[esc/backspace] back to the groups  [q] quit');
  }
  return { lines, highlighted };
}
