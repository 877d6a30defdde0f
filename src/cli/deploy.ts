/**
 * `procgroup-exporter deploy`: renders the DaemonSet and its Service, ServiceMonitor, PrometheusRule
 * and RBAC (plus, on OpenShift, its SCC and kube-rbac-proxy) with the user's config file embedded, and
 * applies them with oc or kubectl, or prints them with --dry-run. `delete` (src/cli/delete.ts) shares
 * the flags. Flag parsing and output only; the work is in src/kube/.
 */
import { readFile } from 'node:fs/promises';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { goStyleArgs } from './flags.js';
import { parseConfig } from '../config/load.js';
import { ConfigError, ExporterError, errnoOf, formatProblem } from '../errors.js';
import { chooseClient, runKubectl } from '../kube/kubectl.js';
import { toYamlStream } from '../kube/manifest.js';
import { manifestId, type Manifest } from '../kube/manifest.js';
import {
  DEFAULT_NAMESPACE,
  MONITORING_STACKS,
  PLATFORMS,
  checkNamespace,
  renderManifests,
  type Features,
  type MonitoringStack,
  type Platform,
} from '../kube/render.js';
import { parseDuration } from '../report/time.js';
import { defaultConfigPath } from '../package-info.js';

export type KubeAction = 'deploy' | 'delete';

const WAIT_USAGE = `      --wait             then wait until the DaemonSet has rolled out on every node
      --wait-timeout DUR give up waiting after DUR (default 5m)
`;

const usage = (action: KubeAction): string => `usage: procgroup-exporter ${action} [flags]

${action === 'deploy'
  ? `Renders the exporter's DaemonSet, Service, ServiceMonitor, PrometheusRule and RBAC (on OpenShift also
its SecurityContextConstraints and kube-rbac-proxy) with your config file in the ConfigMap, and applies
them with oc or kubectl (the current context of your kubeconfig).`
  : `Deletes what 'deploy' created (rendered the same way, so give the same flags), with oc or kubectl.`}

example:
${action === 'deploy'
  ? `  procgroup-exporter deploy -p openshift -c my-config.yaml --wait
  procgroup-exporter deploy -c my-config.yaml --dry-run > manifests.yaml`
  : '  procgroup-exporter delete -p openshift -c my-config.yaml'}

flags:
  -c, --config FILE      exporter config to embed (default: the packaged config/default.yaml)
  -p, --platform P       ${PLATFORMS.join(' | ')} (default kubernetes)
      --monitoring M     OpenShift: which Prometheus scrapes it, ${MONITORING_STACKS.join(' | ')}
                         (default platform; user-workload needs enableUserWorkload in
                         cluster-monitoring-config)
      --perf             enable the perf collector and grant it CAP_PERFMON (and the SCC)
      --taskstats        grant CAP_NET_ADMIN for the kernel's taskstats (exact CPU of exited tasks)
  -n, --namespace NS     namespace of the exporter (default ${DEFAULT_NAMESPACE})
      --image IMAGE      exporter image (default: the one in deploy/kubernetes/kustomization.yaml)
      --dry-run          print the manifests instead of ${action === 'deploy' ? 'applying' : 'deleting'} them
${action === 'deploy' ? WAIT_USAGE : ''}      --kubectl PATH     client to run (default: oc, then kubectl, from PATH; kubectl first
                         with --platform kubernetes)
  -h, --help             this help
`;

export interface KubeCommand {
  platform: Platform;
  monitoring: MonitoringStack;
  features: Features;
  /** rollout-status timeout when waiting; undefined: do not wait */
  waitTimeout: string | undefined;
  configFile: string;
  namespace: string;
  image: string | undefined;
  dryRun: boolean;
  kubectl: string | undefined;
}

function flagError(message: string): ExporterError {
  return new ExporterError('FLAG_INVALID', message);
}

const KUBE_OPTIONS = {
  config: { type: 'string', short: 'c' },
  platform: { type: 'string', short: 'p', default: 'kubernetes' },
  monitoring: { type: 'string', default: 'platform' },
  perf: { type: 'boolean', default: false },
  taskstats: { type: 'boolean', default: false },
  wait: { type: 'boolean', default: false },
  'wait-timeout': { type: 'string', default: '5m' },
  namespace: { type: 'string', short: 'n', default: DEFAULT_NAMESPACE },
  image: { type: 'string' },
  'dry-run': { type: 'boolean', default: false },
  kubectl: { type: 'string' },
  help: { type: 'boolean', short: 'h', default: false },
  } satisfies NonNullable<ParseArgsConfig['options']>;

/** Parse and check the flags; undefined means help was asked. */
export function parseKubeFlags(argv: string[]): KubeCommand | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: goStyleArgs(argv, KUBE_OPTIONS),
      strict: true,
      allowPositionals: false,
      options: KUBE_OPTIONS,
    }));
  } catch (err) {
    throw flagError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) return undefined;
  const platform = values.platform;
  if (!(PLATFORMS as readonly string[]).includes(platform)) {
    throw flagError(`--platform ${JSON.stringify(platform)}: must be one of ${PLATFORMS.join(', ')}`);
  }
  const monitoring = values.monitoring;
  if (!(MONITORING_STACKS as readonly string[]).includes(monitoring)) {
    throw flagError(`--monitoring ${JSON.stringify(monitoring)}: must be one of ${MONITORING_STACKS.join(', ')}`);
  }
  if (platform !== 'openshift' && monitoring !== 'platform') throw flagError(`--monitoring ${monitoring}: OpenShift only (--platform openshift)`);
  if (parseDuration(values['wait-timeout']) === undefined) throw flagError(`--wait-timeout ${JSON.stringify(values['wait-timeout'])}: not a duration such as 5m`);
  checkNamespace(values.namespace);
  if (values.image !== undefined && values.image.trim() === '') throw flagError('--image: empty');
  return {
    platform: platform as Platform,
    monitoring: monitoring as MonitoringStack,
    features: { perf: values.perf, taskstats: values.taskstats },
    waitTimeout: values.wait ? values['wait-timeout'] : undefined,
    configFile: values.config ?? defaultConfigPath,
    namespace: values.namespace,
    image: values.image,
    dryRun: values['dry-run'],
    kubectl: values.kubectl,
  };
}

/** The config file's text, checked like the exporter will check it on every node. */
async function readConfig(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ExporterError('CONFIG_READ_FAILED', `cannot read config ${file}: ${errnoOf(err)}`, { cause: err });
  }
  parseConfig(text, file);
  return text;
}

/** Renders, then prints (--dry-run) or hands the manifests to the client to apply or delete. */
export async function runKubeAction(action: KubeAction, argv: string[]): Promise<number> {
  try {
    const cmd = parseKubeFlags(argv);
    if (!cmd) {
      process.stdout.write(usage(action));
      return 0;
    }
    const manifests = renderManifests({
      platform: cmd.platform,
      monitoring: cmd.monitoring,
      features: cmd.features,
      config: { text: await readConfig(cmd.configFile), file: cmd.configFile },
      namespace: cmd.namespace,
      image: cmd.image,
    });
    // deleting in reverse order removes the workload before what it uses
    const yaml = toYamlStream(action === 'delete' ? [...manifests].reverse() : manifests);
    if (cmd.dryRun) {
      process.stdout.write(yaml);
      return 0;
    }
    const client = chooseClient(cmd.kubectl, cmd.platform === 'openshift' ? ['oc', 'kubectl'] : ['kubectl', 'oc']);
    const args = action === 'deploy' ? ['apply', '-f', '-'] : ['delete', '--ignore-not-found', '-f', '-'];
    await runKubectl({ client, args, input: yaml, stdout: process.stdout, stderr: process.stderr });
    process.stdout.write(summary(action, cmd, manifests));
    if (action === 'deploy' && cmd.waitTimeout !== undefined) {
      const daemonSet = manifests.find((m) => m.kind === 'DaemonSet');
      if (daemonSet) {
        const rollout = ['rollout', 'status', `daemonset/${daemonSet.metadata.name}`, '-n', cmd.namespace, `--timeout=${cmd.waitTimeout}`];
        await runKubectl({ client, args: rollout, input: '', stdout: process.stdout, stderr: process.stderr });
      }
    }
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const p of err.problems) process.stderr.write(`${formatProblem(p)}\n`);
      return 1;
    }
    if (!(err instanceof ExporterError)) throw err;
    process.stderr.write(`procgroup-exporter ${action}: ${err.message}\n`);
    if (err.code === 'FLAG_INVALID') {
      process.stderr.write(`run 'procgroup-exporter ${action} -h' for the flags\n`);
      return 2;
    }
    return 1;
  }
}

/** What was applied or deleted, by kind, and who scrapes it. */
export function summary(action: KubeAction, cmd: KubeCommand, manifests: readonly Manifest[]): string {
  const byKind = new Map<string, string[]>();
  for (const m of manifests) byKind.set(m.kind, [...(byKind.get(m.kind) ?? []), manifestId(m)]);
  const lines = [`${action === 'deploy' ? 'applied' : 'deleted'} ${manifests.length} objects in namespace ${cmd.namespace}:`];
  for (const [kind, ids] of byKind) lines.push(`  ${kind}: ${ids.map((id) => id.split('/').pop()).join(', ')}`);
  if (action === 'deploy') {
    const scraper =
      cmd.platform === 'kubernetes'
        ? 'any Prometheus Operator watching ServiceMonitors in this namespace'
        : cmd.monitoring === 'platform'
          ? 'the platform Prometheus (openshift-monitoring/prometheus-k8s)'
          : 'the user-workload Prometheus (openshift-user-workload-monitoring)';
    lines.push(`scraped by: ${scraper}`);
    const extras = [cmd.features.perf ? 'perf collector (CAP_PERFMON)' : '', cmd.features.taskstats ? 'taskstats (CAP_NET_ADMIN)' : ''].filter(Boolean);
    if (extras.length > 0) lines.push(`with: ${extras.join(', ')}`);
    if (cmd.waitTimeout === undefined) lines.push(`rollout: kubectl -n ${cmd.namespace} rollout status daemonset/procgroup-exporter (or deploy --wait)`);
  }
  return `${lines.join('\n')}\n`;
}

export function run(argv: string[]): Promise<number> {
  return runKubeAction('deploy', argv);
}
