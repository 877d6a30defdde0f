/**
 * `procgroup-exporter deploy`: renders the DaemonSet and its Service, ServiceMonitor, PrometheusRule
 * and RBAC (plus, on OpenShift, its SCC and kube-rbac-proxy) with the user's config file embedded, and
 * applies them with oc or kubectl, or prints them with --dry-run. `delete` (src/cli/delete.ts) shares
 * the flags. Flag parsing and output only; the work is in src/kube/.
 */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { parseConfig } from '../config/load.js';
import { ConfigError, ExporterError, errnoOf, formatProblem } from '../errors.js';
import { chooseClient, runKubectl } from '../kube/kubectl.js';
import { toYamlStream } from '../kube/manifest.js';
import { DEFAULT_NAMESPACE, PLATFORMS, checkNamespace, renderManifests, type Platform } from '../kube/render.js';
import { defaultConfigPath } from '../package-info.js';

export type KubeAction = 'deploy' | 'delete';

const usage = (action: KubeAction): string => `usage: procgroup-exporter ${action} [flags]

${action === 'deploy'
  ? `Renders the exporter's DaemonSet, Service, ServiceMonitor, PrometheusRule and RBAC (on OpenShift also
its SecurityContextConstraints and kube-rbac-proxy) with your config file in the ConfigMap, and applies
them with oc or kubectl (the current context of your kubeconfig).`
  : `Deletes what 'deploy' created (rendered the same way, so give the same flags), with oc or kubectl.`}

  -c, --config FILE      exporter config to embed (default: the packaged config/default.yaml)
  -p, --platform P       ${PLATFORMS.join(' | ')} (default kubernetes)
  -n, --namespace NS     namespace of the exporter (default ${DEFAULT_NAMESPACE})
      --image IMAGE      exporter image (default: the one in deploy/kubernetes/kustomization.yaml)
      --dry-run          print the manifests instead of ${action === 'deploy' ? 'applying' : 'deleting'} them
      --kubectl PATH     client to run (default: oc, then kubectl, from PATH; kubectl first
                         with --platform kubernetes)
  -h, --help             this help
`;

export interface KubeCommand {
  platform: Platform;
  configFile: string;
  namespace: string;
  image: string | undefined;
  dryRun: boolean;
  kubectl: string | undefined;
}

function flagError(message: string): ExporterError {
  return new ExporterError('FLAG_INVALID', message);
}

/** Parse and check the flags; undefined means help was asked. */
export function parseKubeFlags(argv: string[]): KubeCommand | undefined {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string', short: 'c' },
        platform: { type: 'string', short: 'p', default: 'kubernetes' },
        namespace: { type: 'string', short: 'n', default: DEFAULT_NAMESPACE },
        image: { type: 'string' },
        'dry-run': { type: 'boolean', default: false },
        kubectl: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    throw flagError(err instanceof Error ? err.message : String(err));
  }
  if (values.help) return undefined;
  const platform = values.platform;
  if (!(PLATFORMS as readonly string[]).includes(platform)) {
    throw flagError(`--platform ${JSON.stringify(platform)}: must be one of ${PLATFORMS.join(', ')}`);
  }
  checkNamespace(values.namespace);
  if (values.image !== undefined && values.image.trim() === '') throw flagError('--image: empty');
  return {
    platform: platform as Platform,
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

export function run(argv: string[]): Promise<number> {
  return runKubeAction('deploy', argv);
}
