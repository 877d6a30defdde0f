import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { buildGroupsView, type GroupsView } from '../collectors/groups-view.js';
import { createLogger } from '../log.js';
import { buildPipeline, type Pipeline } from '../pipeline/setup.js';
import { EXPORTER_FLAGS, exporterSettings, groupingSource } from './exporter-flags.js';
import { boolFlag, durationFlag, FlagError, flagUsage, parseFlags, stringFlag } from './flags.js';
import { exporterFlags } from './serve.js';
import { renderScreen, type ScreenState, SORT_KEYS, type SortKey, shownGroups } from './top-screen.js';

const TOP_FLAGS = {
  d: durationFlag(1000, 'refresh interval'),
  once: boolFlag(false, 'print the groups once (two cycles -d apart for the rates) and exit: batch mode for scripts; also when stdout is not a terminal'),
  group: stringFlag('', 'with -once: print this group\'s processes and thread names instead of the groups'),
  sort: stringFlag('cpu', `initial sort: ${SORT_KEYS.join(', ')}`),
  from: stringFlag('', 'read a running exporter\'s /api/groups (e.g. https://node:9256) instead of the local /proc'),
  'from.user': stringFlag('', 'basic auth user for -from'),
  'from.password-file': stringFlag('', 'file holding the basic auth password for -from'),
  'from.ca-file': stringFlag('', 'CA certificate (PEM) to verify the exporter\'s TLS certificate'),
  'from.insecure-skip-verify': boolFlag(false, 'do not verify the exporter\'s TLS certificate'),
};

const USAGE = `usage: procgroup-exporter top [flags]
A live view of the groups: CPU (user/system), processes, threads, RSS and I/O rates per group,
refreshed every -d; enter drills into a group's processes (the rule that matched each) and
thread names. With -collector.psi (here or on the exporter read with -from), per group the % of
the interval some/all tasks of its cgroups were stalled on cpu, memory and io. Reads the local
/proc with the same config and flags as serve, or a running exporter with -from. Keys: up/down select, enter drill down, esc back, s sort, / filter, q quit.

examples:
  procgroup-exporter top -config.path /etc/procgroup-exporter/config.yaml
  procgroup-exporter top -from https://node1:9256 -from.user prometheus -from.password-file pw -from.ca-file ca.crt
  procgroup-exporter top -once -sort rss | head

flags of top:
${flagUsage(TOP_FLAGS)}
flags shared with serve (grouping and collection):
${flagUsage(EXPORTER_FLAGS)}`;

/** Where the groups come from. */
interface GroupsFeed {
  readonly description: string;
  /** a new cycle (local) or a new read of the exporter; `group`: that group in full */
  refresh(group: string | undefined): Promise<GroupsView | undefined>;
  close(): Promise<void>;
}

/** Processes and thread names listed per group in the local feed: all of them, the screen cuts. */
const VIEW_ALL = { processLimit: Infinity, threadLimit: 100 };

function localFeed(pipeline: Pipeline, procfs: string): GroupsFeed {
  return {
    description: `local ${procfs}`,
    async refresh(group) {
      const { snapshot } = await pipeline.collection.fresh();
      const matcher = pipeline.config?.matcher;
      return snapshot && buildGroupsView(snapshot, {
        ...VIEW_ALL, only: group, describeRule: (i) => matcher?.describeRule(i), pressure: pipeline.psi && ((g) => pipeline.psi?.groupPressure(g)),
      });
    },
    close: () => pipeline.collection.close(),
  };
}

interface RemoteOptions {
  base: URL;
  authorization: string | undefined;
  ca: string | undefined;
  insecure: boolean;
}

function getJson(url: URL, opts: RemoteOptions): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { Accept: 'application/json' };
    if (opts.authorization) headers.Authorization = opts.authorization;
    const done = (res: import('node:http').IncomingMessage): void => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
      });
      res.on('end', () => {
        if (res.statusCode !== 200) return reject(new Error(`${url.href}: HTTP ${res.statusCode ?? '?'} ${body.slice(0, 200).trim()}`));
        try {
          resolve(JSON.parse(body));
        } catch (err) {
          reject(new Error(`${url.href}: not JSON`, { cause: err }));
        }
      });
    };
    const req = url.protocol === 'https:'
      ? httpsRequest(url, { headers, ca: opts.ca, rejectUnauthorized: !opts.insecure, timeout: 10_000 }, done)
      : httpRequest(url, { headers, timeout: 10_000 }, done);
    req.on('timeout', () => req.destroy(new Error(`${url.href}: no answer in 10 s`)));
    req.on('error', reject);
    req.end();
  });
}

function remoteFeed(opts: RemoteOptions): GroupsFeed {
  return {
    description: opts.base.origin,
    async refresh(group) {
      const path = group === undefined ? 'api/groups' : `api/groups/${encodeURIComponent(group)}`;
      try {
        return (await getJson(new URL(path, opts.base), opts)) as GroupsView;
      } catch (err) {
        // a group that is gone answers 404: show it as empty, the screen says so
        if (group !== undefined && err instanceof Error && / HTTP 404 /.test(err.message)) return undefined;
        throw err;
      }
    },
    close: () => Promise.resolve(),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function batch(feed: GroupsFeed, state: ScreenState, delayMs: number, local: boolean): Promise<number> {
  if (local) {
    await feed.refresh(undefined); // the baseline: rates need a second cycle
    await sleep(delayMs);
  }
  const view = await feed.refresh(state.group);
  process.stdout.write(`${renderScreen(view, state, feed.description, 0).lines.join('\n')}\n`);
  return 0;
}

async function interactive(feed: GroupsFeed, state: ScreenState, delayMs: number): Promise<number> {
  const { default: termkit } = await import('terminal-kit'); // loaded only here: serve never pays for it
  const term = termkit.terminal;
  let view: GroupsView | undefined;
  let error = '';
  let editing: string | undefined; // the filter being typed
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const draw = (): void => {
    const screen = renderScreen(view, state, feed.description, term.height);
    const lines = screen.lines;
    if (editing !== undefined) lines[lines.length - 1] = `filter: ${editing}_  [enter] apply  [esc] cancel`;
    else if (error) lines[lines.length - 1] = `error: ${error}`;
    for (let i = 0; i < term.height; i++) {
      term.moveTo(1, i + 1);
      term.eraseLine();
      const line = (lines[i] ?? '').slice(0, term.width);
      if (i === screen.highlighted) term.inverse(line);
      else if (i === 1) term.bold(line);
      else term(line);
    }
  };

  const refresh = async (): Promise<void> => {
    try {
      view = await feed.refresh(state.group);
      error = '';
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    if (stopped) return;
    draw();
    timer = setTimeout(() => void refresh(), delayMs);
  };

  return new Promise<number>((resolve) => {
    const quit = (): void => {
      stopped = true;
      clearTimeout(timer);
      term.removeAllListeners('key');
      term.grabInput(false);
      term.hideCursor(false);
      term.fullscreen(false);
      void feed.close().then(() => resolve(0));
    };
    const moveSelection = (by: number): void => {
      const n = view ? shownGroups(view, state).length : 0;
      state.selected = Math.max(0, Math.min(n - 1, state.selected + by));
    };
    term.on('key', (name: string, _matches: unknown, data: { isCharacter?: boolean }) => {
      if (editing !== undefined) {
        if (name === 'ENTER') {
          state.filter = editing;
          state.selected = 0;
          editing = undefined;
        } else if (name === 'ESCAPE') editing = undefined;
        else if (name === 'BACKSPACE') editing = editing.slice(0, -1);
        else if (data.isCharacter && editing.length < 64) editing += name;
        draw();
        return;
      }
      if (name === 'q' || name === 'CTRL_C') return quit();
      if (state.group !== undefined) {
        if (name === 'ESCAPE' || name === 'BACKSPACE' || name === 'LEFT') {
          state.group = undefined;
          clearTimeout(timer);
          void refresh();
        }
        return;
      }
      if (name === 'UP') moveSelection(-1);
      else if (name === 'DOWN') moveSelection(1);
      else if (name === 'PAGE_UP') moveSelection(-10);
      else if (name === 'PAGE_DOWN') moveSelection(10);
      else if (name === 's') {
        state.sort = SORT_KEYS[(SORT_KEYS.indexOf(state.sort) + 1) % SORT_KEYS.length] as SortKey;
        state.selected = 0;
      } else if (name === '/') editing = state.filter;
      else if (name === 'ENTER' && view) {
        const g = shownGroups(view, state)[state.selected];
        if (g) {
          state.group = g.name;
          clearTimeout(timer);
          void refresh();
          return;
        }
      }
      draw();
    });
    term.fullscreen(true);
    term.hideCursor(true);
    term.grabInput(true);
    draw();
    void refresh();
  });
}

/** `top`: a live terminal view of the groups (see USAGE). */
export async function run(argv: string[]): Promise<number> {
  // top's own flags first, then serve's: split argv by which set knows each flag
  const mine: string[] = [];
  const shared: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const name = arg.replace(/^--?/, '').split('=')[0] ?? '';
    const def = (TOP_FLAGS as Record<string, { kind: string }>)[name];
    const target = def ? mine : shared;
    target.push(arg);
    if (def && def.kind !== 'bool' && !arg.includes('=') && i + 1 < argv.length) target.push(argv[++i] ?? '');
  }
  const top = parseFlags(TOP_FLAGS, mine);
  const flags = exporterFlags(shared, process.env);
  if (top.$help || flags.$help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (!SORT_KEYS.includes(top.sort as SortKey)) throw new FlagError(`-sort must be one of ${SORT_KEYS.join(', ')}`);
  const state: ScreenState = { sort: top.sort as SortKey, filter: '', selected: 0, group: top.group || undefined };

  let feed: GroupsFeed;
  if (top.from) {
    const base = new URL(top.from.endsWith('/') ? top.from : `${top.from}/`);
    const password = top['from.password-file'] ? readFileSync(top['from.password-file'], 'utf8').replace(/\r?\n$/, '') : '';
    feed = remoteFeed({
      base,
      authorization: top['from.user'] ? `Basic ${Buffer.from(`${top['from.user']}:${password}`).toString('base64')}` : undefined,
      ca: top['from.ca-file'] ? readFileSync(top['from.ca-file'], 'utf8') : undefined,
      insecure: top['from.insecure-skip-verify'],
    });
  } else {
    const log = createLogger({ level: flags.debug ? 'debug' : 'error' });
    feed = localFeed(buildPipeline({ ...exporterSettings(flags, process.env), minIntervalMs: 0 }, groupingSource(flags).load(), log), flags.procfs);
  }
  if (top.once || !process.stdout.isTTY || !process.stdin.isTTY) {
    try {
      return await batch(feed, state, top.d, !top.from);
    } finally {
      await feed.close();
    }
  }
  return interactive(feed, state, top.d);
}
