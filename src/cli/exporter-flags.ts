import { boolFlag, durationFlag, stringFlag } from './flags.js';

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
  'collect.min-interval': durationFlag(5000, 'a cycle younger than this is served again instead of walking /proc anew (HA Prometheus pairs cost one walk)'),
  'threads.details': boolFlag(false, 'also export thread_io_bytes_total and thread_context_switches_total (reads two more files per thread)'),
  'collector.psi': boolFlag(false, 'enable the PSI (cgroup v2 pressure) collector (also: psi.enabled in the config)'),
  'collector.psi.averages': boolFlag(false, 'also export PSI avg10/avg60/avg300 as ratios'),
  'collector.perf': boolFlag(false, 'enable the perf counter collector (also: perf.enabled in the config, env PERF_COLLECTOR_ENABLED)'),
  'path.rootfs': stringFlag('/', 'host root filesystem mount (e.g. /host in a DaemonSet): prefix for cgroupfs and container runtime files'),
  'path.cgroup2': stringFlag('', 'cgroup v2 mount to use instead of discovering it from mountinfo'),
};
