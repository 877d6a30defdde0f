/**
 * JSON schema of the config file (checked with ajv) and the typed options it yields.
 * The schema checks shape only; regexes, templates, label names and "a rule needs a matcher"
 * are checked when the rules are compiled (matcher.ts).
 */

import { DEFAULT_PERF_OPTIONS, PERF_EVENT_NAMES, type PerfInherit, type PerfOptions as PerfCollectorOptions, type PerfScope } from '../perf/options.js';

export interface PsiOptions {
  enabled: boolean;
  /** also export the kernel's 10s/60s/300s averages */
  averages: boolean;
}

export type { PerfScope };

/** The config's perf section, every field resolved (events undefined: the collector's default set); defined in perf/options.ts. */
export type PerfOptions = Pick<PerfCollectorOptions, 'enabled' | 'scope' | 'maxFds'> & { events: readonly string[] | undefined; inherit: PerfInherit };

export const DEFAULT_PSI: PsiOptions = { enabled: false, averages: false };
export const DEFAULT_PERF: PerfOptions = { ...DEFAULT_PERF_OPTIONS, events: undefined };

/** Highest pid Linux can hand out (PID_MAX_LIMIT on 64-bit). */
const PID_MAX = 4194304;

const stringList = { type: 'array', minItems: 1, items: { type: 'string' } } as const;
const intOrList = (minimum: number) => ({
  type: ['integer', 'array'],
  minimum,
  maximum: PID_MAX,
  minItems: 1,
  items: { type: 'integer', minimum, maximum: PID_MAX },
}) as const;

const rule = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: { type: 'string' },
    comm: stringList,
    exe: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
    cmdline: stringList,
    pid: intOrList(1),
    ppid: intOrList(0),
    cgroup: stringList,
    container: {
      type: 'object',
      additionalProperties: false,
      properties: {
        namespace: { type: 'string' },
        pod: { type: 'string' },
        name: { type: 'string' },
      },
    },
    // Keys are free-form label names, checked with a clearer message when compiling.
    labels: { type: 'object', additionalProperties: { type: 'string' } },
    // per-thread-name families for this rule's groups; absent: the -threads flag decides
    threads: { type: 'boolean' },
  },
} as const;

export const CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['process_names'],
  properties: {
    process_names: { type: 'array', minItems: 1, items: rule },
    psi: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean' },
        averages: { type: 'boolean' },
      },
    },
    perf: {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean' },
        events: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: PERF_EVENT_NAMES } },
        scope: { enum: ['task', 'cgroup', 'auto'] },
        inherit: { enum: ['threads', 'tree'] },
        max_fds: { type: 'integer', minimum: 1 },
      },
    },
  },
} as const;

/** The shape CONFIG_SCHEMA accepts. */
export interface RawConfig {
  process_names: unknown[];
  psi?: { enabled?: boolean; averages?: boolean };
  perf?: { enabled?: boolean; events?: string[]; scope?: PerfScope; inherit?: PerfInherit; max_fds?: number };
}
