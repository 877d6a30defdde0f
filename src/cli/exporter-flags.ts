import { kubeletCgroupRoot, type KubeletCgroupRoot } from '../cgroup/container-id.js';
import type { ProcessMatcher } from '../config/attributes.js';
import { legacyMatcher } from '../config/legacy.js';
import { type LoadedConfig, loadConfigFile, readConfigFile } from '../config/load.js';
import { isSourceMode, selectCounterSource, SOURCE_MODES, type SelectedSource } from '../host/source-select.js';
import type { Logger } from '../log.js';
import { defaultConfigPath } from '../package-info.js';
import { perfOptionsFromEnv } from '../perf/options.js';
import type { ExporterSettings } from '../pipeline/settings.js';
import { boolFlag, durationFlag, FlagError, type FlagValues, intFlag, stringFlag } from './flags.js';

/** -kubelet.cgroup-root, shared with explain */
export const KUBELET_CGROUP_ROOT_FLAG = stringFlag('/',
  'where the kubelet\'s kubepods hierarchy lives, as a path inside the cgroup2 mount (the kubelet\'s --cgroup-root; kind: /kubelet.slice): ' +
  'only processes in kubepods.slice or kubepods directly below it get container and pod identity');

/** The parsed -kubelet.cgroup-root; FlagError unless it is an absolute cgroup path. */
export function kubeletCgroupRootFlag(value: string): KubeletCgroupRoot {
  const root = kubeletCgroupRoot(value);
  if (!root) throw new FlagError(`-kubelet.cgroup-root must be an absolute path inside the cgroup2 mount without . or .. levels (e.g. / or /kubelet.slice), not "${value}"`);
  return root;
}

/** Flags of `serve` and `once`: process-exporter's names first, then this exporter's own. */
export const EXPORTER_FLAGS = {
  'config.path': stringFlag('', 'path to YAML config file (default: the embedded config/default.yaml)'),
  procfs: stringFlag('/proc', 'path to read proc data from'),
  children: boolFlag(true, "if a proc is tracked, track with it any children that aren't part of their own group"),
  threads: boolFlag(true, 'report on per-threadname metrics as well'),
  'gather-smaps': boolFlag(false, 'gather metrics from smaps_rollup, which contains proportional resident memory size'),
  recheck: boolFlag(false, 'recheck process names on each scrape'),
  'remove-empty-groups': boolFlag(false, 'forget process groups with no processes'),
  'web.listen-address': stringFlag(':9256', 'Address on which to expose metrics and web interface (env PORT sets the port when this flag is absent)'),
  'web.telemetry-path': stringFlag('/metrics', 'Path under which to expose metrics.'),
  'web.config.file': stringFlag('', 'Path to a web config file (exporter-toolkit format) enabling TLS and/or basic auth'),
  'once-to-stdout-delay': durationFlag(0, "Don't bind, just wait this much time, print the metrics once to stdout, and exit"),
  procnames: stringFlag('', 'comma-separated list of process names to monitor'),
  namemapping: stringFlag('', 'comma-separated list, alternating process name and capturing regex to apply to cmdline'),
  debug: boolFlag(false, 'log debugging information'),
  version: boolFlag(false, 'print version information and exit'),
  man: boolFlag(false, 'print this flag list and exit (process-exporter compatibility: docs/process-exporter.md)'),
  'collect.min-interval': durationFlag(5000, 'a cycle younger than this is served to a scraper that has not had it yet instead of walking /proc anew (HA Prometheus pairs cost one walk); never twice to the same scraper'),
  'web.max-requests': intFlag(40, 'maximum number of concurrent /metrics requests (waiting or being written); beyond, 503'),
  'web.write-timeout': durationFlag(30_000, 'a scraper that has not read the whole answer this long after it was ready is disconnected'),
  'web.enable-lifecycle': boolFlag(false, 'enable config reload over HTTP (POST /-/reload); SIGHUP always reloads'),
  'health.max-failed-cycles': intFlag(3, '/health answers 503 after this many collection cycles failed in a row'),
  'threads.details': boolFlag(true, 'with -threads: thread_io_bytes_total and thread_context_switches_total, as process-exporter (false saves one task/<tid>/io read per thread)'),
  'collector.wchan': boolFlag(false, 'namedprocess_namegroup_threads_wchan: tasks per group waiting in each kernel function (reads one more file per process and thread)'),
  compat: stringFlag('', 'process-exporter: exactly process-exporter 0.7.10\'s families, labels and semantics (turns on -collector.wchan, -gather-smaps, -threads.details, turns off -threads.normalize-names and -threads.max-names, unless given; states count threads; thread rows leave out single-threaded processes)'),
  'threads.normalize-names': boolFlag(true, 'thread names: a digit run at the start or after a non-letter becomes N (worker-1234 -> worker-N); false for process-exporter parity'),
  'threads.max-names': intFlag(32, 'distinct thread names per group; further names are counted as threadname="other" (0: no cap, process-exporter parity)'),
  'collector.psi': boolFlag(false, 'enable the PSI (cgroup v2 pressure) collector (also: psi.enabled in the config)'),
  'collector.psi.averages': boolFlag(false, 'also export PSI avg10/avg60/avg300 as ratios'),
  'collector.perf': boolFlag(false, 'enable the perf counter collector (also: perf.enabled in the config, env PERF_COLLECTOR_ENABLED)'),
  'path.rootfs': stringFlag('/', 'host root filesystem mount (e.g. /host in a DaemonSet): prefix for cgroupfs and container runtime files'),
  'exit-records': boolFlag(true, 'credit every exiting task exactly from the kernel\'s taskstats exit records (needs CAP_NET_ADMIN, the host network and PID namespaces); without them exited children are credited through their parent\'s cutime'),
  'path.cgroup2': stringFlag('', 'cgroup v2 mount to use instead of discovering it from mountinfo'),
  'kubelet.cgroup-root': KUBELET_CGROUP_ROOT_FLAG,
  'procfs.held-files': intFlag(8192, 'keep up to this many /proc files open between scrapes and re-read them in place (each process\'s stat, and status and io of tracked ones), at most half the open-file limit: each saves ~10 us of CPU per scrape and holds one fd and ~4.3 KiB of kernel memory (0: open and close every read)'),
  source: stringFlag('auto', 'where per-task counters come from: taskstats (the kernel\'s binary task accounting over netlink: needs CAP_NET_ADMIN), procfs (the text files), or auto (taskstats when usable, else procfs)'),
};

export type ExporterFlags = FlagValues<typeof EXPORTER_FLAGS>;

/**
 * The one settings object of serve and once: the flags, and the environment where the flags leave
 * it open (the seed deployment's PERF_COLLECTOR_ENABLED and *_PERF_LABELS win over the config file).
 */
export function exporterSettings(flags: ExporterFlags, env: Readonly<Record<string, string | undefined>>): ExporterSettings {
  const perfEnv = perfOptionsFromEnv(env);
  return {
    procfsRoot: flags.procfs,
    heldFiles: flags['procfs.held-files'],
    rootfs: flags['path.rootfs'],
    cgroup2Root: flags['path.cgroup2'] || undefined,
    kubeletCgroupRoot: kubeletCgroupRootFlag(flags['kubelet.cgroup-root']),
    children: flags.children,
    threads: flags.threads,
    threadDetails: flags.threads && flags['threads.details'],
    wchan: flags['collector.wchan'],
    compat: flags.compat,
    threadNames: { normalize: flags['threads.normalize-names'], maxPerGroup: flags['threads.max-names'] },
    gatherSmaps: flags['gather-smaps'],
    recheck: flags.recheck,
    removeEmptyGroups: flags['remove-empty-groups'],
    minIntervalMs: flags['collect.min-interval'],
    exitRecords: flags['exit-records'],
    psi: { enabled: flags['collector.psi'], averages: flags['collector.psi.averages'] },
    perf: { enabled: flags['collector.perf'] || (perfEnv.enabled ?? false), events: perfEnv.events },
  };
}

/** Where the grouping comes from: a config file, or process-exporter's legacy flags. */
export interface GroupingSource {
  /** the file, or undefined for -procnames/-namemapping */
  configFile: string | undefined;
  load(): { matcher: ProcessMatcher; config: LoadedConfig | undefined };
  /** load() for a reload while serving: the file is read without blocking the event loop */
  reload(): Promise<{ matcher: ProcessMatcher; config: LoadedConfig | undefined }>;
}

export function groupingSource(flags: ExporterFlags): GroupingSource {
  const legacy = flags.procnames !== '' || flags.namemapping !== '';
  if (flags['config.path'] !== '' && legacy) throw new FlagError('-config.path cannot be used with -namemapping or -procnames');
  if (legacy) {
    const procnames = flags.procnames === '' ? [] : flags.procnames.split(',');
    const load = () => ({ matcher: legacyMatcher({ procnames, namemapping: flags.namemapping }), config: undefined });
    return { configFile: undefined, load, reload: async () => load() };
  }
  const file = flags['config.path'] === '' ? defaultConfigPath : flags['config.path'];
  return {
    configFile: file,
    load: () => {
      const config = loadConfigFile(file);
      return { matcher: config.matcher, config };
    },
    reload: async () => {
      const config = await readConfigFile(file);
      return { matcher: config.matcher, config };
    },
  };
}

/**
 * The counter source -source asks for, opened once for the exporter's lifetime (it outlives config
 * reloads). Throws FlagError for an unknown mode, and the taskstats error for -source=taskstats
 * when taskstats cannot be used.
 */
export function openCounterSource(flags: ExporterFlags, log: Logger): SelectedSource {
  const mode = flags.source;
  if (!isSourceMode(mode)) throw new FlagError(`-source must be one of ${SOURCE_MODES.join(', ')}, not "${mode}"`);
  return selectCounterSource({ mode, procfsRoot: flags.procfs }, log);
}
