/**
 * Options of the perf collector, event-name validation, and the seed deployment's environment variables.
 */
import { ExporterError } from '../errors.js';
import { DEFAULT_EVENTS, PERF_EVENTS, TIME_PSEUDO_EVENTS, eventNamesOfKind, findEvent, type EventKind, type PerfEventSpec } from './events.js';

/**
 * task: every group counted per process (one counter per thread and event).
 * cgroup: only container groups, counted per container cgroup (one counter per CPU and event); others get none.
 * auto: container groups per cgroup, every other group per process.
 */
export type PerfScope = 'task' | 'cgroup' | 'auto';

/**
 * threads: a process's counters are inherited by the threads it creates later, never by the processes
 * it forks (needs Linux 5.13+ for inherit_thread). Each process is counted from the cycle that first
 * sees it, in its own group, whatever the process tree looks like.
 * tree: counters are inherited by later threads and forked children too (perf's plain `inherit`):
 * children that live less than a cycle are counted, in the group of their counted ancestor.
 */
export type PerfInherit = 'threads' | 'tree';

export interface PerfOptions {
  enabled: boolean;
  /** event names as in PERF_EVENTS (case-insensitive); undefined: DEFAULT_EVENTS */
  events?: readonly string[] | undefined;
  scope: PerfScope;
  /** default 'threads' */
  inherit?: PerfInherit | undefined;
  /** most perf fds open at once; groups that do not fit are skipped */
  maxFds: number;
}

export const DEFAULT_PERF_OPTIONS = {
  enabled: false,
  events: DEFAULT_EVENTS,
  scope: 'auto',
  inherit: 'threads',
  maxFds: 4096,
} as const satisfies PerfOptions;

export const PERF_EVENT_NAMES: readonly string[] = PERF_EVENTS.map((e) => e.name);

/** Specs of the named events, in order, duplicates dropped; `where` names the source in the error. */
export function resolveEvents(names: readonly string[], where: string): PerfEventSpec[] {
  const out: PerfEventSpec[] = [];
  const unknown: string[] = [];
  for (const name of names) {
    const spec = findEvent(name);
    if (!spec) unknown.push(name);
    else if (!out.includes(spec)) out.push(spec);
  }
  if (unknown.length > 0) {
    throw new ExporterError('CONFIG_INVALID',
      `${where}: unknown perf event ${unknown.map((n) => JSON.stringify(n)).join(', ')}; known events: ${PERF_EVENT_NAMES.join(', ')}`);
  }
  return out;
}

/** What the seed's environment variables set; fields the environment does not mention are absent. */
export interface PerfEnvOptions {
  enabled?: boolean;
  events?: string[];
}

const ENV_LISTS: ReadonlyArray<[string, EventKind]> = [
  ['HW_PERF_LABELS', 'hardware'],
  ['SW_PERF_LABELS', 'software'],
  ['CACHE_PERF_LABELS', 'cache'],
];

/**
 * The seed deployment's PERF_COLLECTOR_ENABLED ("true"/"false") and HW_PERF_LABELS, SW_PERF_LABELS,
 * CACHE_PERF_LABELS (comma-separated event names, each list only of its kind). TimeEnabled and
 * TimeRunning are accepted and ignored: their information is `namedprocess_namegroup_perf_scaling_ratio`.
 * Throws ExporterError FLAG_INVALID naming the variable and the bad value.
 */
export function perfOptionsFromEnv(env: Readonly<Record<string, string | undefined>>): PerfEnvOptions {
  const out: PerfEnvOptions = {};
  const enabled = env.PERF_COLLECTOR_ENABLED?.trim();
  if (enabled !== undefined && enabled !== '') {
    const lower = enabled.toLowerCase();
    if (lower === 'true' || lower === '1') out.enabled = true;
    else if (lower === 'false' || lower === '0') out.enabled = false;
    else throw new ExporterError('FLAG_INVALID', `PERF_COLLECTOR_ENABLED=${JSON.stringify(enabled)}: expected "true" or "false"`);
  }
  let listed = false;
  const events: string[] = [];
  for (const [variable, kind] of ENV_LISTS) {
    const value = env[variable];
    if (value === undefined) continue;
    listed = true;
    for (const raw of value.split(',')) {
      const name = raw.trim();
      if (name === '' || TIME_PSEUDO_EVENTS.some((t) => t.toLowerCase() === name.toLowerCase())) continue;
      const spec = findEvent(name);
      if (!spec || spec.kind !== kind) {
        const hint = spec ? `it is a ${spec.kind} event` : 'unknown event';
        throw new ExporterError('FLAG_INVALID',
          `${variable}: ${JSON.stringify(name)}: ${hint}; ${variable} takes ${[...eventNamesOfKind(kind), ...TIME_PSEUDO_EVENTS].join(',')}`);
      }
      if (!events.includes(spec.name)) events.push(spec.name);
    }
  }
  if (listed) out.events = events;
  return out;
}
