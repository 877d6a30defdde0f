/**
 * `procgroup-exporter report`: avg/min/max CPU (cores) per host process group and per pod over a
 * time range, read from Prometheus. Flag parsing and output only; the work is in src/report/.
 */
import { readFile } from 'node:fs/promises';
import { X509Certificate } from 'node:crypto';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { goStyleArgs } from './flags.js';
import { ExporterError, errnoOf } from '../errors.js';
import { buildReport, type Report, type ReportOptions } from '../report/build.js';
import { PrometheusClient, parsePrometheusUrl } from '../report/prometheus-client.js';
import { SOURCES, SOURCE_NAMES, STATS, type SourceName, type Stat } from '../report/query.js';
import { parseDuration, parseInstant } from '../report/time.js';
import { OUTPUT_FORMATS, WRITERS, type OutputFormat } from '../report/writers.js';

export const DEFAULT_EXPORTER_NAME = 'procgroup-exporter.*';

const USAGE = `usage: procgroup-exporter report --url URL [flags]

Average, minimum and maximum CPU (in cores) over a time range of every host process group and
every pod, read from Prometheus, with a total per source.

example:
  procgroup-exporter report --url https://prometheus.example:9090 --token-file token -i 24h -o table

flags:
  --url URL               Prometheus (or Thanos Querier) base URL; a bare host means https://HOST,
                          e.g. the route host from: oc get route prometheus-k8s -n openshift-monitoring
                          -o jsonpath='{.status.ingress[0].host}'
  -t, --token T           bearer token (oc whoami -t)
      --token-file F      read the bearer token from file F (keeps it out of the process list)
      --insecure-token    send the token over a plain http:// URL too (refused otherwise)
  -i, --range DUR         length of the range, Prometheus duration (default 1h)
  -T, --at TIME           end of the range: RFC 3339 with zone, or Unix seconds (default now)
      --step DUR          sample the range every DUR (default: the server's evaluation interval)
  -S, --skip-namespace NS leave out the pods of namespace NS (repeatable, or comma-separated)
  -o, --output FMT        csv | json | yaml | table (default csv)
  -s, --sort-by STAT      avg | min | max, largest first (default avg)
      --source SRC        groups | pods | all (default all)
      --exporter-name RE  the exporter's own pods and process group, left out
                          (anchored regex, default ${DEFAULT_EXPORTER_NAME})
      --ca-file F         PEM CA bundle to verify the server's certificate with
      --insecure          do not verify the server's certificate
      --timeout DUR       give up when the server is silent this long (default 30s)
  -h, --help              this help
`;

export interface ReportCommand {
  url: URL;
  token?: string;
  tokenFile?: string;
  insecureToken: boolean;
  caFile?: string;
  insecure: boolean;
  timeoutMs: number;
  output: OutputFormat;
  report: ReportOptions;
}

/** A bad command-line value (report and prom). */
export function flagError(message: string): ExporterError {
  return new ExporterError('FLAG_INVALID', message);
}

/** `value` when it is one of `allowed`, else a flag error naming `flag` as written (e.g. `--output`). */
export function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw flagError(`${flag} ${JSON.stringify(value)}: must be one of ${allowed.join(', ')}`);
}

/** A Kubernetes namespace name (RFC 1123 label). */
const NAMESPACE_RE = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;

const REPORT_OPTIONS = {
  url: { type: 'string' },
  token: { type: 'string', short: 't' },
  'token-file': { type: 'string' },
  'insecure-token': { type: 'boolean', default: false },
  range: { type: 'string', short: 'i', default: '1h' },
  at: { type: 'string', short: 'T' },
  step: { type: 'string' },
  'skip-namespace': { type: 'string', short: 'S', multiple: true, default: [] },
  output: { type: 'string', short: 'o', default: 'csv' },
  'sort-by': { type: 'string', short: 's', default: 'avg' },
  source: { type: 'string', default: 'all' },
  'exporter-name': { type: 'string', default: DEFAULT_EXPORTER_NAME },
  'ca-file': { type: 'string' },
  insecure: { type: 'boolean', default: false },
  timeout: { type: 'string', default: '30s' },
  help: { type: 'boolean', short: 'h', default: false },
  } satisfies NonNullable<ParseArgsConfig['options']>;

/** Parse and check the flags; `now` is the default end of the range. Undefined means help was asked. */
export function parseReportFlags(argv: string[], now: Date): ReportCommand | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: goStyleArgs(argv, REPORT_OPTIONS),
      strict: true,
      allowPositionals: false,
      options: REPORT_OPTIONS,
    }));
  } catch (err) {
    throw flagError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) return undefined;

  if (values.url === undefined) throw flagError('--url is required');
  const url = parsePrometheusUrl(values.url);
  if (values.token !== undefined && values['token-file'] !== undefined) {
    throw flagError('--token and --token-file exclude each other');
  }
  if (values['ca-file'] !== undefined && values.insecure) throw flagError('--ca-file and --insecure exclude each other');
  if (url.protocol === 'http:' && (values['ca-file'] !== undefined || values.insecure)) {
    throw flagError('--ca-file and --insecure apply to https:// URLs only');
  }
  if (parseDuration(values.range) === undefined) {
    throw flagError(`--range ${JSON.stringify(values.range)}: not a Prometheus duration such as 1h, 30m or 1h30m`);
  }
  if (values.step !== undefined && parseDuration(values.step) === undefined) {
    throw flagError(`--step ${JSON.stringify(values.step)}: not a Prometheus duration such as 30s`);
  }
  const timeoutMs = parseDuration(values.timeout);
  if (timeoutMs === undefined) throw flagError(`--timeout ${JSON.stringify(values.timeout)}: not a duration such as 30s`);
  let at = now;
  if (values.at !== undefined) {
    const parsed = parseInstant(values.at);
    if (!parsed) {
      throw flagError(`--at ${JSON.stringify(values.at)}: give RFC 3339 with a zone (2024-05-01T12:00:00Z) or Unix seconds`);
    }
    at = parsed;
  }
  const skipNamespaces = values['skip-namespace'].flatMap((v) => v.split(',')).map((v) => v.trim());
  for (const ns of skipNamespaces) {
    if (!NAMESPACE_RE.test(ns)) throw flagError(`--skip-namespace ${JSON.stringify(ns)}: not a namespace name`);
  }
  const source = oneOf<SourceName | 'all'>('--source', values.source, [...SOURCE_NAMES, 'all']);
  return {
    url,
    token: values.token,
    tokenFile: values['token-file'],
    insecureToken: values['insecure-token'],
    caFile: values['ca-file'],
    insecure: values.insecure,
    timeoutMs,
    output: oneOf('--output', values.output, OUTPUT_FORMATS),
    report: {
      at,
      window: { range: values.range, step: values.step },
      sources: source === 'all' ? SOURCE_NAMES : [source],
      exclusions: { exporterName: values['exporter-name'], skipNamespaces: [...new Set(skipNamespaces)] },
      sortBy: oneOf<Stat>('--sort-by', values['sort-by'], STATS),
    },
  };
}

async function readFlagFile(flag: string, path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    throw new ExporterError('FLAG_INVALID', `--${flag} ${path}: cannot read: ${errnoOf(err)}`, { cause: err });
  }
}

export async function readToken(path: string): Promise<string> {
  const token = (await readFlagFile('token-file', path)).trim();
  if (token === '') throw flagError(`--token-file ${path}: the file is empty`);
  return token;
}

const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The CA bundle, checked up front: TLS would otherwise ignore a file without certificates. */
export async function readCaBundle(path: string): Promise<string> {
  const text = await readFlagFile('ca-file', path);
  const certs = text.match(PEM_CERT_RE) ?? [];
  if (certs.length === 0) throw flagError(`--ca-file ${path}: no PEM certificate (-----BEGIN CERTIFICATE-----) in the file`);
  certs.forEach((pem, i) => {
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw new ExporterError('FLAG_INVALID', `--ca-file ${path}: certificate ${i + 1} cannot be parsed: ${errnoOf(err)}`, {
        cause: err,
      });
    }
  });
  return text;
}

function notes(report: Report): string[] {
  const lines = report.sources
    .filter((s) => s.basis === 'raw')
    .map((s) => {
      const spec = SOURCES[s.source];
      return (
        `note: ${s.source}: the recorded series ${spec.rule} has no samples in the range; ` +
        `computed from the raw counter ${spec.rawCounter} with a subquery instead (slower; ` +
        (s.source === 'groups'
          ? 'load rules/procgroup.rules.yaml into Prometheus to record it)'
          : 'OpenShift monitoring records it, other clusters need the rule)')
      );
    });
  const missing = report.missing.map((m) => `warning: left out: ${m.reason}`);
  return [...lines, ...missing, ...report.warnings.map((w) => `warning: Prometheus: ${w}`)];
}

/** How to reach Prometheus, as the report flags (and `prom metrics`) give it. */
export interface ConnectionFlags {
  url: URL;
  token?: string | undefined;
  tokenFile?: string | undefined;
  insecureToken: boolean;
  caFile?: string | undefined;
  insecure: boolean;
  timeoutMs: number;
}

/**
 * Parses the flags, builds the report from a client made from them and prints it; exit 0, 2 for
 * bad flags (with where to find them), 1 for every other error. Shared by `report` and `prom metrics`.
 */
export async function runReportCommand<C extends ConnectionFlags>(spec: {
  /** for messages: `procgroup-exporter report`, `prom metrics` */
  name: string;
  help: string;
  usage: string;
  parse(): C | undefined;
  options(cmd: C): ReportOptions;
  write(cmd: C, report: Report): string;
}): Promise<number> {
  let client: PrometheusClient | undefined;
  try {
    const cmd = spec.parse();
    if (!cmd) {
      process.stdout.write(spec.usage);
      return 0;
    }
    client = new PrometheusClient({
      url: cmd.url,
      token: cmd.tokenFile !== undefined ? await readToken(cmd.tokenFile) : cmd.token,
      insecureToken: cmd.insecureToken,
      ca: cmd.caFile !== undefined ? await readCaBundle(cmd.caFile) : undefined,
      insecure: cmd.insecure,
      timeoutMs: cmd.timeoutMs,
    });
    const report = await buildReport(client, spec.options(cmd));
    for (const line of notes(report)) process.stderr.write(`${line}\n`);
    process.stdout.write(spec.write(cmd, report));
    return 0;
  } catch (err) {
    if (!(err instanceof ExporterError)) throw err;
    process.stderr.write(`${spec.name}: ${err.message}\n`);
    if (err.code === 'FLAG_INVALID') {
      process.stderr.write(`run '${spec.help}' for the flags\n`);
      return 2;
    }
    return 1;
  } finally {
    client?.close();
  }
}

export function run(argv: string[]): Promise<number> {
  return runReportCommand({
    name: 'procgroup-exporter report',
    help: 'procgroup-exporter report -h',
    usage: USAGE,
    parse: () => parseReportFlags(argv, new Date()),
    options: (cmd) => cmd.report,
    write: (cmd, report) => WRITERS[cmd.output](report),
  });
}
