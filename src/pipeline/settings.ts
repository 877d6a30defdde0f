import type { KubeletCgroupRoot } from '../cgroup/container-id.js';
import type { LoadedConfig, PsiOptions } from '../config/load.js';
import { DEFAULT_PERF_OPTIONS, type PerfOptions } from '../perf/options.js';

/**
 * Everything a pipeline is built from, as one object: the command line's flags and the
 * environment, merged once in cli/ (flags > environment); the config file fills in what they leave
 * open (collectorSettings). Nothing below cli/ reads flags or the environment.
 */
export interface ExporterSettings {
  procfsRoot: string;
  /** /proc files kept open between cycles (Host heldFiles) */
  heldFiles: number;
  /** '/' outside a container */
  rootfs: string;
  /** undefined: discover it from mountinfo */
  cgroup2Root: string | undefined;
  /** where the kubelet's kubepods hierarchy lives in the cgroup2 tree: only pods in it are containers */
  kubeletCgroupRoot: KubeletCgroupRoot;
  children: boolean;
  threads: boolean;
  threadDetails: boolean;
  /** per-group counts of the kernel functions tasks wait in */
  wchan: boolean;
  /** process-exporter: only its families and semantics */
  compat: string;
  threadNames: { normalize: boolean; maxPerGroup: number };
  gatherSmaps: boolean;
  recheck: boolean;
  removeEmptyGroups: boolean;
  /** a cycle younger than this is served to a scraper that has not had it yet */
  minIntervalMs: number;
  exitRecords: boolean;
  /** what the flags and the environment say about the PSI and perf collectors; the config says the rest */
  psi: { enabled: boolean; averages: boolean };
  perf: { enabled: boolean; events: readonly string[] | undefined };
}

/** PSI and perf options: flags and environment first, then the config file, then the defaults. */
export function collectorSettings(settings: ExporterSettings, config: LoadedConfig | undefined): { psi: PsiOptions; perf: PerfOptions } {
  const perf = config?.perf;
  return {
    psi: {
      enabled: settings.psi.enabled || (config?.psi.enabled ?? false),
      averages: settings.psi.averages || (config?.psi.averages ?? false),
    },
    perf: {
      enabled: settings.perf.enabled || (perf?.enabled ?? false),
      events: settings.perf.events ?? perf?.events,
      scope: perf?.scope ?? DEFAULT_PERF_OPTIONS.scope,
      inherit: perf?.inherit ?? DEFAULT_PERF_OPTIONS.inherit,
      maxFds: perf?.maxFds ?? DEFAULT_PERF_OPTIONS.maxFds,
    },
  };
}
