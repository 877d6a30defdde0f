/**
 * `prom` (also `procgroup-exporter prom`): the seed's tool, same command line. `prom metrics` prints
 * avg/min/max CPU per host process group and pod from Prometheus in the seed's shape
 * (src/report/prom-shape.ts), computed by the same queries as `report`; `prom deploy` and
 * `prom delete` are `deploy`/`delete --platform openshift`. Flag parsing and output only.
 */
import { parseArgs } from 'node:util';
import { parsePrometheusUrl } from '../report/prometheus-client.js';
import { PROM_OUTPUTS, PROM_WRITERS, promTable, type PromOrder, type PromOutput } from '../report/prom-shape.js';
import { SOURCE_NAMES, STATS, type SourceName, type Stat } from '../report/query.js';
import { parseDuration, parseInstantUtc } from '../report/time.js';
import { runKubeAction } from './deploy.js';
import { DEFAULT_EXPORTER_NAME, flagError, oneOf, runReportCommand, type ConnectionFlags } from './report.js';

const USAGE = `usage: prom metrics -h HOST -t TOKEN [flags]
       prom deploy [deploy flags]    (procgroup-exporter deploy --platform openshift)
       prom delete [deploy flags]    (procgroup-exporter delete --platform openshift)

prom metrics: average, minimum and maximum CPU (cores) over an interval of every host process group
and every pod, from Prometheus; rows keyed uniqueId (<instance>/<group> or <namespace>/<pod>).

example:
  prom metrics -h $(oc get route prometheus-k8s -n openshift-monitoring -o jsonpath='{.status.ingress[0].host}') \\
    -t $(oc whoami -t) -i 24h -o yaml
  prom deploy -c my-config.yaml --wait

flags of prom metrics (prom deploy -h, prom delete -h for theirs):
  -h, --host TEXT              Prometheus host (https://HOST) or URL, try \`oc get route
                               prometheus-k8s -n openshift-monitoring -o
                               jsonpath='{.status.ingress[0].host}'\`   [required]
  -t, --token TEXT             token for authentication, try \`oc whoami -t\`  [required,
                               or --token-file FILE]
  -i, --interval TEXT          Prometheus duration  [default: 1h]
  -T, --time TEXT              RFC 3339, a date-time without zone (UTC) or Unix seconds
                               [default: now]
      --last / --first         TIME ends the interval (default) / starts it
  -S, --skip-namespaces TEXT   leave out the pods of these namespaces (repeatable, comma-separated)
  -o, --output [csv|json|yaml] [default: csv]
  -s, --sort-by [min|max|avg]  [default: avg]
      --head / --tail          largest first (default) / smallest first
  -m, --mode [housekeeping|infra]
                               only the host's process groups / only the pods  [default: both]
      --ca-file FILE, --insecure, --timeout DUR, --exporter-name RE   as for \`report\`
      --help                   this help
`;

const MODES: Readonly<Record<string, SourceName>> = { housekeeping: 'groups', infra: 'pods' };

export interface PromMetricsCommand extends ConnectionFlags {
  output: PromOutput;
  order: PromOrder;
  interval: string;
  at: Date;
  sources: readonly SourceName[];
  skipNamespaces: string[];
  exporterName: string;
  sortBy: Stat;
}

/** The last of a click-style on/off pair given on the command line wins, as in click. */
function lastOf<T extends string>(argv: readonly string[], on: T, off: T, fallback: T): T {
  const i = argv.lastIndexOf(`--${on}`);
  const j = argv.lastIndexOf(`--${off}`);
  return i < 0 && j < 0 ? fallback : i > j ? on : off;
}

/** Parse and check `prom metrics` flags; undefined means help was asked. */
export function parsePromMetricsFlags(argv: string[], now: Date): PromMetricsCommand | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        host: { type: 'string', short: 'h' },
        token: { type: 'string', short: 't' },
        'token-file': { type: 'string' },
        'insecure-token': { type: 'boolean', default: false },
        interval: { type: 'string', short: 'i', default: '1h' },
        time: { type: 'string', short: 'T' },
        last: { type: 'boolean' },
        first: { type: 'boolean' },
        'skip-namespaces': { type: 'string', short: 'S', multiple: true, default: [] },
        output: { type: 'string', short: 'o', default: 'csv' },
        'sort-by': { type: 'string', short: 's', default: 'avg' },
        head: { type: 'boolean' },
        tail: { type: 'boolean' },
        mode: { type: 'string', short: 'm' },
        'ca-file': { type: 'string' },
        insecure: { type: 'boolean', default: false },
        timeout: { type: 'string', default: '30s' },
        'exporter-name': { type: 'string', default: DEFAULT_EXPORTER_NAME },
        help: { type: 'boolean', default: false },
      },
    }));
  } catch (err) {
    throw flagError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) return undefined;
  if (values.host === undefined) throw flagError('-h/--host is required');
  if (values.token === undefined && values['token-file'] === undefined) throw flagError('-t/--token (or --token-file) is required');
  if (values.token !== undefined && values['token-file'] !== undefined) throw flagError('--token and --token-file exclude each other');
  const url = parsePrometheusUrl(values.host);
  if (values['ca-file'] !== undefined && values.insecure) throw flagError('--ca-file and --insecure exclude each other');
  const intervalMs = parseDuration(values.interval);
  if (intervalMs === undefined) throw flagError(`-i/--interval ${JSON.stringify(values.interval)}: not a Prometheus duration such as 1h, 30m or 1h30m`);
  const timeoutMs = parseDuration(values.timeout);
  if (timeoutMs === undefined) throw flagError(`--timeout ${JSON.stringify(values.timeout)}: not a duration such as 30s`);
  let time = now;
  if (values.time !== undefined) {
    const parsed = parseInstantUtc(values.time);
    if (!parsed) throw flagError(`-T/--time ${JSON.stringify(values.time)}: give 2024-05-01T12:00:00 (UTC), RFC 3339 with a zone, or Unix seconds`);
    time = parsed;
  }
  // --first: TIME is where the interval starts, so the queries are evaluated one interval later
  const at = lastOf(argv, 'first', 'last', 'last') === 'first' ? new Date(time.getTime() + intervalMs) : time;
  const skipNamespaces = [...new Set(values['skip-namespaces'].flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean))];
  const mode = values.mode === undefined ? undefined : oneOf('-m/--mode', values.mode, Object.keys(MODES));
  return {
    url,
    token: values.token,
    tokenFile: values['token-file'],
    insecureToken: values['insecure-token'],
    caFile: values['ca-file'],
    insecure: values.insecure,
    timeoutMs,
    output: oneOf('-o/--output', values.output, PROM_OUTPUTS),
    order: lastOf<PromOrder>(argv, 'head', 'tail', 'head'),
    interval: values.interval,
    at,
    sources: mode === undefined ? SOURCE_NAMES : [MODES[mode] as SourceName],
    skipNamespaces,
    exporterName: values['exporter-name'],
    sortBy: oneOf<Stat>('-s/--sort-by', values['sort-by'], STATS),
  };
}

function metrics(argv: string[]): Promise<number> {
  return runReportCommand({
    name: 'prom metrics',
    help: 'prom metrics --help',
    usage: USAGE,
    parse: () => parsePromMetricsFlags(argv, new Date()),
    options: (cmd) => ({
      at: cmd.at,
      window: { range: cmd.interval },
      sources: cmd.sources,
      exclusions: { exporterName: cmd.exporterName, skipNamespaces: cmd.skipNamespaces },
      sortBy: cmd.sortBy,
    }),
    write: (cmd, report) => PROM_WRITERS[cmd.output](promTable(report, { interval: cmd.interval, order: cmd.order })),
  });
}

export async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'metrics':
      return metrics(rest);
    case 'deploy':
    case 'delete':
      // the seed's tool deploys to OpenShift; a --platform given later wins
      return runKubeAction(command, ['--platform', 'openshift', ...rest]);
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`prom: unknown command ${JSON.stringify(command)}\n${USAGE}`);
      return 2;
  }
}
