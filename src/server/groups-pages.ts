/**
 * The groups page (`/`), one group's page (`/groups/<name>`) and the same as JSON (`/api/groups`,
 * `/api/groups/<name>`): which processes form each group and which rule matched each. Served by
 * the same app as /metrics, so behind the same TLS and basic auth.
 */
import type Router from '@koa/router';
import type { GroupView, GroupsView, ProcessView } from '../collectors/groups-view.js';

export interface GroupsSource {
  /** the last cycle's groups (a fresh cycle when none is recent); undefined when no cycle succeeded */
  view(opts: { only?: string; processLimit: number; threadLimit: number }): Promise<GroupsView | undefined>;
}

export interface GroupsPagesOptions {
  groups: GroupsSource;
  version: string;
  /** other endpoints, linked from the top of each page: [href, text] */
  links: ReadonlyArray<readonly [string, string]>;
}

/** processes shown per group on `/` and in /api/groups; a group's page lists all of them */
const SUMMARY_PROCESSES = 5;
const SUMMARY_THREADS = 10;
/** a group's page lists at most this many (a group can hold every process of the host) */
const PAGE_PROCESSES = 2000;
const PAGE_THREADS = 200;

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const percent = (cores: number | null): string => (cores === null ? '–' : `${(cores * 100).toFixed(1)}%`);
const cpuOf = (x: { cpuUser: number | null; cpuSystem: number | null }): number | null => (x.cpuUser === null || x.cpuSystem === null ? null : x.cpuUser + x.cpuSystem);

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

const byteRate = (n: number | null): string => (n === null ? '–' : `${formatBytes(Math.round(n))}/s`);
const labelsText = (labels: Readonly<Record<string, string>>): string => Object.entries(labels).filter(([, v]) => v !== '').map(([k, v]) => `${k}=${v}`).join(', ');

/** How a process joined its group, in words. */
export function matchedText(p: ProcessView): string {
  const m = p.matched;
  if (m === null) return 'legacy -procnames/-namemapping';
  if ('inheritedFrom' in m) return `child of tracked pid ${m.inheritedFrom}`;
  return `rule ${m.rule}${m.text ? `: ${m.text}` : ''}`;
}

export function containerText(p: ProcessView): string {
  const c = p.container;
  if (!c) return '';
  return c.pod ? `${c.namespace ?? ''}/${c.pod}/${c.name ?? ''}` : (c.id ?? '').slice(0, 12);
}

const STYLE = `body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse;margin:.5em 0 1.5em}
th,td{padding:.25em .7em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
th{background:#f3f3f3}nav a{margin-right:1em}small{color:#666}code{font-size:.9em}`;

function page(title: string, opts: GroupsPagesOptions, view: GroupsView | undefined, body: string): string {
  const nav = opts.links.map(([href, text]) => `<a href="${escapeHtml(href)}">${escapeHtml(text)}</a>`).join('');
  const when = view
    ? `cycle ${view.cycle} at ${new Date(view.time).toISOString()}; rates over the last ${view.intervalSeconds.toFixed(1)} s`
    : 'no collection yet';
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>
<nav><a href="/">Groups</a>${nav}</nav>
<h1>${escapeHtml(title)}</h1>
<p><small>procgroup-exporter ${escapeHtml(opts.version)}: ${escapeHtml(when)}</small></p>
${body}
</body></html>\n`;
}

function groupsTable(view: GroupsView): string {
  const rows = view.groups.map((g) => {
    const top = g.members.map((p) => `${p.pid} ${escapeHtml(p.comm)} ${percent(cpuOf(p))}`).join('<br>');
    return `<tr><td><a href="/groups/${encodeURIComponent(g.name)}">${escapeHtml(g.name)}</a></td><td>${escapeHtml(labelsText(g.labels))}</td>` +
      `<td class="n">${g.processes}</td><td class="n">${g.threads}</td><td class="n">${percent(g.cpuUser)}</td><td class="n">${percent(g.cpuSystem)}</td>` +
      `<td class="n">${formatBytes(g.residentBytes)}</td><td class="n">${byteRate(g.readRate)}</td><td class="n">${byteRate(g.writeRate)}</td><td><small>${top}</small></td></tr>`;
  });
  return `<table id="groups"><thead><tr><th>group</th><th>labels</th><th class="n">processes</th><th class="n">threads</th><th class="n">CPU user</th><th class="n">CPU system</th>` +
    `<th class="n">resident</th><th class="n">read</th><th class="n">write</th><th>busiest processes</th></tr></thead><tbody>\n${rows.join('\n')}\n</tbody></table>`;
}

function groupDetail(g: GroupView): string {
  const procs = g.members.map((p) =>
    `<tr><td class="n">${p.pid}</td><td class="n">${p.ppid}</td><td>${escapeHtml(p.comm)}</td><td class="n">${percent(cpuOf(p))}</td>` +
    `<td class="n">${formatBytes(p.residentBytes)}</td><td class="n">${p.threads}</td><td>${escapeHtml(containerText(p))}</td><td><code>${escapeHtml(matchedText(p))}</code></td></tr>`);
  const threads = g.threadNames.map((t) =>
    `<tr><td>${escapeHtml(t.name)}</td><td class="n">${t.count}</td><td class="n">${percent(cpuOf(t))}</td><td class="n">${t.cpuSecondsTotal.toFixed(2)}</td></tr>`);
  const labels = labelsText(g.labels);
  return `<h2>${escapeHtml(g.name)}${labels ? ` <small>{${escapeHtml(labels)}}</small>` : ''}</h2>
<p>${g.processes} processes, ${g.threads} threads, CPU ${percent(cpuOf(g))} (user ${percent(g.cpuUser)}, system ${percent(g.cpuSystem)}), resident ${formatBytes(g.residentBytes)}</p>
<table class="processes"><thead><tr><th class="n">pid</th><th class="n">ppid</th><th>comm</th><th class="n">CPU</th><th class="n">resident</th><th class="n">threads</th><th>container</th><th>matched by</th></tr></thead><tbody>
${procs.join('\n')}
</tbody></table>
${threads.length ? `<h3>Thread names</h3><table class="threads"><thead><tr><th>thread name</th><th class="n">threads</th><th class="n">CPU</th><th class="n">CPU seconds</th></tr></thead><tbody>\n${threads.join('\n')}\n</tbody></table>` : ''}`;
}

export function groupsRoutes(router: Router, opts: GroupsPagesOptions): void {
  const summary = { processLimit: SUMMARY_PROCESSES, threadLimit: SUMMARY_THREADS };
  const detail = (only: string) => ({ only, processLimit: PAGE_PROCESSES, threadLimit: PAGE_THREADS });

  router.get('/', async (ctx) => {
    const view = await opts.groups.view(summary);
    ctx.type = 'text/html';
    ctx.body = page('Process groups', opts, view, view ? groupsTable(view) : '<p>No collection has succeeded yet.</p>');
  });

  router.get('/groups/:name', async (ctx) => {
    const name = ctx.params.name ?? '';
    const view = await opts.groups.view(detail(name));
    if (!view?.groups.length) ctx.status = 404;
    ctx.type = 'text/html';
    ctx.body = page(`Group ${name}`, opts, view, view?.groups.length ? view.groups.map(groupDetail).join('\n') : '<p>No such group in the last cycle.</p>');
  });

  router.get('/api/groups', async (ctx) => {
    const view = await opts.groups.view(summary);
    if (!view) ctx.status = 503;
    ctx.body = view ?? { error: 'no collection has succeeded yet' };
  });

  router.get('/api/groups/:name', async (ctx) => {
    const view = await opts.groups.view(detail(ctx.params.name ?? ''));
    if (!view?.groups.length) ctx.status = 404;
    ctx.body = view ?? { error: 'no collection has succeeded yet' };
  });
}
