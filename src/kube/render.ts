/**
 * The manifests `deploy` applies: deploy/<platform> built like kustomize, with the user's config file
 * in the ConfigMap and the PrometheusRule made from rules/ (both are read from their source of truth,
 * never from the copies in the kustomize base).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ExporterError } from '../errors.js';
import { packageRoot } from '../package-info.js';
import { buildKustomization, containersOf, podSpecOf, setNamespace } from './kustomize.js';
import { isObject, sortForApply, type Manifest } from './manifest.js';
import { PROMETHEUS_RULE_FILE, RULES_FILE, prometheusRuleFileText } from './prometheus-rule.js';

export const PLATFORMS = ['kubernetes', 'openshift'] as const;
export type Platform = (typeof PLATFORMS)[number];
/** which OpenShift Prometheus scrapes the exporter: the platform's or the user-workload one */
export const MONITORING_STACKS = ['platform', 'user-workload'] as const;
export type MonitoringStack = (typeof MONITORING_STACKS)[number];

/** Optional data sources whose privileges the manifests grant only when asked. */
export interface Features {
  /** the perf collector: -collector.perf and CAP_PERFMON */
  perf: boolean;
  /** taskstats (exact exit accounting): CAP_NET_ADMIN */
  taskstats: boolean;
}
export const NO_FEATURES: Features = { perf: false, taskstats: false };

/** The kustomization a platform and monitoring stack are built from. */
export function overlayDir(platform: Platform, monitoring: MonitoringStack): string {
  if (platform === 'kubernetes') return 'kubernetes';
  return monitoring === 'platform' ? 'openshift' : 'openshift-user-workload';
}

export const DEFAULT_NAMESPACE = 'procgroup-exporter';
/** the kustomize base's copy of config/default.yaml (kustomize reads no file outside its directory) */
export const CONFIG_COPY_FILE = 'deploy/kubernetes/config.yaml';
const EXPORTER_CONTAINER = 'exporter';

export interface RenderOptions {
  platform: Platform;
  /** OpenShift only; default platform */
  monitoring?: MonitoringStack | undefined;
  /** default none */
  features?: Features | undefined;
  /** the exporter config embedded in the ConfigMap, byte for byte */
  config: { text: string; file: string };
  /** default procgroup-exporter */
  namespace?: string | undefined;
  /** the exporter's image, default the kustomization's */
  image?: string | undefined;
  /** package root holding deploy/ and rules/; default this package's */
  root?: string | undefined;
}

/** RFC 1123 label, as Kubernetes requires of namespace names */
const NAMESPACE_RE = /^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
/** The platform monitoring stack's own namespace: an exporter deployed there would be unsupported. */
const FORBIDDEN_NAMESPACES = new Set(['openshift-monitoring']);

export function checkNamespace(namespace: string): void {
  if (!NAMESPACE_RE.test(namespace)) {
    throw new ExporterError('FLAG_INVALID', `namespace ${JSON.stringify(namespace)}: not a valid name (RFC 1123 label)`);
  }
  if (FORBIDDEN_NAMESPACES.has(namespace)) {
    throw new ExporterError('FLAG_INVALID', `namespace ${namespace}: belongs to the platform monitoring stack; use a namespace of its own`);
  }
}

export function renderManifests(opts: RenderOptions): Manifest[] {
  const root = path.resolve(opts.root ?? packageRoot);
  const redirected = new Map<string, string>([
    [path.join(root, CONFIG_COPY_FILE), opts.config.text],
    [path.join(root, PROMETHEUS_RULE_FILE), prometheusRuleText(root)],
  ]);
  const monitoring = opts.monitoring ?? 'platform';
  if (opts.platform !== 'openshift' && monitoring !== 'platform') {
    throw new ExporterError('FLAG_INVALID', `--monitoring ${monitoring}: OpenShift only (on Kubernetes, any Prometheus Operator picks up the ServiceMonitor)`);
  }
  let manifests = buildKustomization(path.join(root, 'deploy', overlayDir(opts.platform, monitoring)), {
    readFile: (file) => redirected.get(path.resolve(file)) ?? readFileSync(file, 'utf8'),
  });
  if (opts.namespace !== undefined && opts.namespace !== DEFAULT_NAMESPACE) {
    checkNamespace(opts.namespace);
    manifests = setNamespace(manifests, opts.namespace).map((m) => retargetServerName(m, opts.namespace ?? ''));
  }
  if (opts.image !== undefined) manifests = manifests.map((m) => setExporterImage(m, opts.image ?? ''));
  const features = opts.features ?? NO_FEATURES;
  if (features.perf) manifests = manifests.map((m) => grant(m, { capability: 'PERFMON', arg: '-collector.perf' }));
  if (features.taskstats) manifests = manifests.map((m) => grant(m, { capability: 'NET_ADMIN' }));
  return sortForApply(manifests);
}

/**
 * Adds a capability to the exporter container (and to the SCC's allowed ones) and an argument to
 * its command line.
 */
function grant(m: Manifest, what: { capability: string; arg?: string }): Manifest {
  if (m.kind === 'SecurityContextConstraints') {
    const allowed = Array.isArray(m['allowedCapabilities']) ? m['allowedCapabilities'] : [];
    m['allowedCapabilities'] = [...allowed, what.capability];
    return m;
  }
  const podSpec = podSpecOf(m);
  for (const c of podSpec ? containersOf(podSpec) : []) {
    if (c['name'] !== EXPORTER_CONTAINER) continue;
    const sc = isObject(c['securityContext']) ? c['securityContext'] : (c['securityContext'] = {});
    const caps = isObject(sc['capabilities']) ? sc['capabilities'] : (sc['capabilities'] = {});
    caps['add'] = [...(Array.isArray(caps['add']) ? caps['add'] : []), what.capability];
    if (what.arg !== undefined && Array.isArray(c['args'])) c['args'] = [...c['args'], what.arg];
  }
  return m;
}

function prometheusRuleText(root: string): string {
  const file = path.join(root, RULES_FILE);
  return prometheusRuleFileText(readFileSync(file, 'utf8'), file);
}

/** The kustomize base's generated files, as they must be on disk (`npm run deploy:sync` writes them). */
export function generatedBaseFiles(root: string = packageRoot): { file: string; text: string }[] {
  return [
    { file: path.join(root, CONFIG_COPY_FILE), text: readFileSync(path.join(root, 'config', 'default.yaml'), 'utf8') },
    { file: path.join(root, PROMETHEUS_RULE_FILE), text: prometheusRuleText(root) },
  ];
}

/** The service-CA certificate is issued for <service>.<namespace>.svc: the scrape must ask for that name. */
function retargetServerName(m: Manifest, namespace: string): Manifest {
  if (m.kind !== 'ServiceMonitor' || !isObject(m['spec']) || !Array.isArray(m['spec']['endpoints'])) return m;
  for (const e of m['spec']['endpoints']) {
    const tls = isObject(e) ? e['tlsConfig'] : undefined;
    if (!isObject(tls) || typeof tls['serverName'] !== 'string') continue;
    const [service, , ...rest] = tls['serverName'].split('.');
    if (service !== undefined && rest.join('.') === 'svc') tls['serverName'] = `${service}.${namespace}.svc`;
  }
  return m;
}

function setExporterImage(m: Manifest, image: string): Manifest {
  const podSpec = podSpecOf(m);
  for (const c of podSpec ? containersOf(podSpec) : []) {
    if (c['name'] === EXPORTER_CONTAINER) c['image'] = image;
  }
  return m;
}
