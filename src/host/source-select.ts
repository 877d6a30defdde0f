/**
 * Which source the per-task counters come from: `-source=auto|procfs|taskstats`. Chosen once at
 * start-up (the netlink socket lives as long as the exporter, across config reloads).
 * - procfs: the text files (status, io, stat ticks).
 * - taskstats: the kernel's binary task accounting; start-up fails when it cannot be used.
 * - auto: taskstats when the family answers and the exporter may use it (CAP_NET_ADMIN), else
 *   procfs; the choice and the reason are logged once.
 */
import { readlinkSync } from 'node:fs';
import path from 'node:path';
import { ExporterError } from '../errors.js';
import type { Logger } from '../log.js';
import { TaskstatsCounterSource } from './taskstats-counters.js';

export const SOURCE_MODES = ['auto', 'procfs', 'taskstats'] as const;
export type SourceMode = (typeof SOURCE_MODES)[number];

export interface SelectedSource {
  /** what the counters come from: the `source` label of procgroup_exporter_source_info */
  name: 'procfs' | 'taskstats';
  /** undefined for procfs: the host reads the text files itself */
  counterSource: TaskstatsCounterSource | undefined;
  /** why taskstats is not used (auto only) */
  reason?: string;
}

export interface SourceOptions {
  mode: SourceMode;
  /** the -procfs root the host walks */
  procfsRoot: string;
  /** opens the taskstats source (tests replace it) */
  open?: () => TaskstatsCounterSource;
}

function selfPid(procfsRoot: string): number | undefined {
  try {
    return Number(readlinkSync(path.join(procfsRoot, 'self')));
  } catch {
    return undefined;
  }
}

export function isSourceMode(value: string): value is SourceMode {
  return (SOURCE_MODES as readonly string[]).includes(value);
}

/**
 * Opens the source `mode` asks for. Throws the taskstats error (TASKSTATS_UNAVAILABLE,
 * PERMISSION_DENIED, with the kernel's errno) when `taskstats` was asked for and cannot be used.
 */
export function selectCounterSource(options: SourceOptions, log: Logger): SelectedSource {
  const { mode, procfsRoot } = options;
  const open = options.open ?? TaskstatsCounterSource.open;
  if (mode === 'procfs') {
    log.info('counter source', { source: 'procfs', reason: '-source=procfs' });
    return { name: 'procfs', counterSource: undefined };
  }
  // taskstats answers about the kernel's tasks as this process sees them: the procfs root must show the same pids
  const self = selfPid(procfsRoot);
  if (self !== process.pid) {
    const reason = `${procfsRoot} is not this kernel's procfs in this process's PID namespace (${procfsRoot}/self is ${self ?? 'missing'}, we are ${process.pid})`;
    if (mode === 'taskstats') throw new ExporterError('TASKSTATS_UNAVAILABLE', `-source=taskstats: ${reason}`);
    log.info('counter source', { source: 'procfs', mode, reason });
    return { name: 'procfs', counterSource: undefined, reason };
  }
  try {
    const counterSource = open();
    log.info('counter source', { source: 'taskstats', mode });
    return { name: 'taskstats', counterSource };
  } catch (err) {
    if (mode === 'taskstats' || !(err instanceof ExporterError)) throw err;
    const hint = err.code === 'PERMISSION_DENIED' ? ' (needs CAP_NET_ADMIN)' : err.code === 'TASKSTATS_UNAVAILABLE' ? ' (no taskstats family here: another network namespace on an older kernel, or a kernel without CONFIG_TASKSTATS)' : '';
    const reason = `${err.message}${hint}`;
    log.info('counter source', { source: 'procfs', mode, reason: `taskstats unusable: ${reason}` });
    return { name: 'procfs', counterSource: undefined, reason };
  }
}
