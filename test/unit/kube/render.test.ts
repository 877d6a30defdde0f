/**
 * What the rendered manifests must say for the DaemonSet to work on a node and be scraped: mounts,
 * privileges, wiring between DaemonSet, Service, ServiceMonitor and proxy, the user's config and the
 * rules from their sources of truth.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from 'yaml';
import { EXPORTER_FLAGS } from '../../../src/cli/exporter-flags.js';
import { parseFlags } from '../../../src/cli/flags.js';
import type { Manifest } from '../../../src/kube/manifest.js';
import { renderManifests, type Features, type MonitoringStack, type Platform } from '../../../src/kube/render.js';

const root = path.resolve(import.meta.dirname, '../../..');
const userConfig = {
  // unusual bytes on purpose: comments, quotes, a template, no trailing newline
  text: '# mine\nprocess_names:\n  - name: "{{.Comm}}:{{.Matches.Port}}"\n    cmdline: [\'--port=(?P<Port>\\d+)\']',
  file: '/home/me/pe.yaml',
};

function render(platform: Platform, extra: { namespace?: string; image?: string; monitoring?: MonitoringStack; features?: Features } = {}): Manifest[] {
  return renderManifests({ platform, config: userConfig, root, ...extra });
}

function one(ms: Manifest[], kind: string): any {
  const found = ms.filter((m) => m.kind === kind);
  assert.equal(found.length, 1, `exactly one ${kind}`);
  return found[0];
}

function container(ds: any, name: string): any {
  const c = ds.spec.template.spec.containers.find((x: any) => x.name === name);
  assert.ok(c, `container ${name}`);
  return c;
}

function exporterArgs(ds: any): ReturnType<typeof parseFlags<typeof EXPORTER_FLAGS>> {
  const args: string[] = container(ds, 'exporter').args;
  assert.equal(args[0], 'serve');
  // the exporter's own flag parser: a misspelt or unknown flag throws here, as it would on the node
  return parseFlags(EXPORTER_FLAGS, args.slice(1));
}

for (const platform of ['kubernetes', 'openshift'] as const) {
  test(`${platform}: DaemonSet reads the host's /proc, /sys and /var/log read-only, on every node`, () => {
    const ms = render(platform);
    const ds = one(ms, 'DaemonSet');
    const pod = ds.spec.template.spec;
    assert.equal(pod.hostPID, true);
    assert.deepEqual(pod.tolerations, [{ operator: 'Exists' }]);
    // an existing class, as OpenShift's node-exporter uses: none of our own is created
    assert.equal(pod.priorityClassName, 'system-cluster-critical');
    assert.equal(ms.some((m) => m.kind === 'PriorityClass'), false);
    const hostPaths = new Map<string, string>(pod.volumes.filter((v: any) => v.hostPath).map((v: any) => [v.name, v.hostPath.path]));
    assert.deepEqual([...hostPaths.values()].sort(), ['/proc', '/sys', '/var/log']);
    const exporter = container(ds, 'exporter');
    for (const mount of exporter.volumeMounts) {
      assert.equal(mount.readOnly, true, `${mount.name} read-only`);
      const host = hostPaths.get(mount.name);
      if (host) assert.equal(mount.mountPath, `/host${host}`);
    }
    const flags = exporterArgs(ds);
    assert.equal(flags.procfs, '/host/proc');
    assert.equal(flags['path.rootfs'], '/host');
    assert.equal(exporter.securityContext.readOnlyRootFilesystem, true);
    assert.equal(exporter.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(exporter.securityContext.capabilities.drop, ['ALL']);
    assert.ok(exporter.resources.requests.cpu && exporter.resources.requests.memory);
    for (const probe of [exporter.livenessProbe, exporter.readinessProbe]) assert.equal(probe.httpGet.path, '/health');
    for (const c of pod.containers.filter((x: any) => x.name !== 'exporter')) {
      assert.equal(c.securityContext.runAsNonRoot, true, `${c.name} runs as non-root`);
    }
  });

  test(`${platform}: the user's config file is in the ConfigMap byte for byte, where -config.path reads it`, () => {
    const ms = render(platform);
    const cm = one(ms, 'ConfigMap');
    const [key, ...others] = Object.keys(cm.data);
    assert.equal(others.length, 0);
    assert.equal(cm.data[key ?? ''], userConfig.text);
    const ds = one(ms, 'DaemonSet');
    const volume = ds.spec.template.spec.volumes.find((v: any) => v.configMap);
    assert.equal(volume.configMap.name, cm.metadata.name);
    const mount = container(ds, 'exporter').volumeMounts.find((m: any) => m.name === volume.name);
    assert.equal(exporterArgs(ds)['config.path'], `${mount.mountPath}/${key}`);
    // a changed config is a new ConfigMap name, so the DaemonSet rolls
    const other = renderManifests({ platform, config: { text: `${userConfig.text}\n`, file: 'x' }, root });
    assert.notEqual(one(other, 'ConfigMap').metadata.name, cm.metadata.name);
  });

  test(`${platform}: the PrometheusRule carries rules/procgroup.rules.yaml's groups`, () => {
    const rules = parse(readFileSync(path.join(root, 'rules/procgroup.rules.yaml'), 'utf8'));
    assert.deepEqual(one(render(platform), 'PrometheusRule').spec.groups, rules.groups);
  });

  test(`${platform}: the ServiceMonitor scrapes a port of the headless Service that selects the pods`, () => {
    const ms = render(platform);
    const svc = one(ms, 'Service');
    const sm = one(ms, 'ServiceMonitor');
    const ds = one(ms, 'DaemonSet');
    assert.equal(svc.spec.clusterIP, 'None');
    assert.deepEqual(sm.spec.selector.matchLabels, pickLabels(svc.metadata.labels, sm.spec.selector.matchLabels));
    assert.deepEqual(svc.spec.selector, pickLabels(ds.spec.template.metadata.labels, svc.spec.selector));
    const [endpoint] = sm.spec.endpoints;
    const port = svc.spec.ports.find((p: any) => p.name === endpoint.port);
    assert.ok(port, `Service port ${endpoint.port}`);
    assert.equal(port.port, 9256);
    const target = ds.spec.template.spec.containers.flatMap((c: any) => c.ports ?? []).find((p: any) => p.name === port.targetPort);
    assert.equal(target?.containerPort, 9256);
    assert.equal(endpoint.interval, '15s');
  });
}

function pickLabels(labels: Record<string, string>, wanted: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(wanted).map((k) => [k, labels[k] ?? '<missing>']));
}

test('kubernetes: the exporter listens on all addresses, plain http', () => {
  const ms = render('kubernetes');
  assert.equal(exporterArgs(one(ms, 'DaemonSet'))['web.listen-address'], ':9256');
  assert.equal(one(ms, 'ServiceMonitor').spec.endpoints[0].scheme, undefined);
  assert.equal(ms.some((m) => m.kind === 'SecurityContextConstraints'), false);
});

test('openshift: loopback exporter behind kube-rbac-proxy with the service-CA certificate', () => {
  const ms = render('openshift');
  const ds = one(ms, 'DaemonSet');
  const listen = exporterArgs(ds)['web.listen-address'];
  assert.match(listen, /^127\.0\.0\.1:\d+$/);
  assert.equal(container(ds, 'exporter').ports, undefined);
  const proxyArgs: string[] = container(ds, 'kube-rbac-proxy').args;
  assert.ok(proxyArgs.includes(`--upstream=http://${listen}/`));
  assert.ok(proxyArgs.includes('--secure-listen-address=0.0.0.0:9256'));
  // the kubelet probes /health through the proxy, which lets that one path through
  assert.ok(proxyArgs.includes('--ignore-paths=/health'));
  for (const probe of [container(ds, 'exporter').livenessProbe, container(ds, 'exporter').readinessProbe]) {
    assert.deepEqual(probe.httpGet, { path: '/health', port: 9256, scheme: 'HTTPS' });
  }
  const svc = one(ms, 'Service');
  const secretName = svc.metadata.annotations['service.beta.openshift.io/serving-cert-secret-name'];
  const tls = ds.spec.template.spec.volumes.find((v: any) => v.secret?.secretName === secretName);
  assert.ok(tls, 'the serving-cert secret is mounted');
  const tlsMount = container(ds, 'kube-rbac-proxy').volumeMounts.find((m: any) => m.name === tls.name);
  assert.ok(proxyArgs.includes(`--tls-cert-file=${tlsMount.mountPath}/tls.crt`));
  assert.equal(ds.spec.template.spec.automountServiceAccountToken, true);
  const endpoint = one(ms, 'ServiceMonitor').spec.endpoints[0];
  assert.equal(endpoint.scheme, 'https');
  assert.equal(endpoint.tlsConfig.serverName, 'procgroup-exporter.procgroup-exporter.svc');
  assert.match(endpoint.tlsConfig.caFile, /service-ca\.crt$/);
  assert.ok(endpoint.bearerTokenFile);
});

test('openshift: own SCC (host PID, read-only host paths), monitoring label, RBAC for prometheus-k8s', () => {
  const ms = render('openshift');
  const scc = one(ms, 'SecurityContextConstraints');
  assert.equal(scc.allowHostPID, true);
  assert.equal(scc.allowHostDirVolumePlugin, true);
  assert.equal(scc.allowPrivilegedContainer, false);
  assert.equal(scc.allowHostNetwork, false);
  assert.equal(scc.readOnlyRootFilesystem, true);
  assert.ok(scc.volumes.includes('hostPath'));
  // the SCC's capabilities cover what the exporter container asks for
  const exporter = container(one(ms, 'DaemonSet'), 'exporter');
  for (const cap of exporter.securityContext.capabilities.add) assert.ok(scc.allowedCapabilities.includes(cap), cap);

  const ns = one(ms, 'Namespace');
  assert.equal(ns.metadata.labels['openshift.io/cluster-monitoring'], 'true');
  assert.equal(ns.metadata.name, 'procgroup-exporter');

  const role = ms.find((m: any) => m.kind === 'ClusterRole') as any;
  assert.deepEqual(role.rules[0], {
    apiGroups: ['security.openshift.io'], resources: ['securitycontextconstraints'], resourceNames: [scc.metadata.name], verbs: ['use'],
  });
  const crb = one(ms, 'ClusterRoleBinding');
  assert.deepEqual(crb.subjects, [{ kind: 'ServiceAccount', name: 'procgroup-exporter', namespace: 'procgroup-exporter' }]);
  const rb = one(ms, 'RoleBinding');
  assert.deepEqual(rb.subjects, [{ kind: 'ServiceAccount', name: 'prometheus-k8s', namespace: 'openshift-monitoring' }]);
  assert.equal(rb.metadata.namespace, 'procgroup-exporter');
});

test('nothing is placed in openshift-monitoring, nothing uses node-exporter\'s service account', () => {
  for (const platform of ['kubernetes', 'openshift'] as const) {
    const ms = render(platform);
    assert.deepEqual(ms.filter((m) => m.metadata.namespace === 'openshift-monitoring').map((m) => m.kind), []);
    assert.doesNotMatch(JSON.stringify(ms), /node-exporter/);
    assert.equal(one(ms, 'DaemonSet').spec.template.spec.serviceAccountName, one(ms, 'ServiceAccount').metadata.name);
  }
});

test('--namespace moves every namespaced object, the SCC binding and the certificate name along', () => {
  const ms = render('openshift', { namespace: 'node-metrics' });
  const clusterScoped = new Set(['Namespace', 'PriorityClass', 'ClusterRole', 'ClusterRoleBinding', 'SecurityContextConstraints']);
  for (const m of ms) {
    if (clusterScoped.has(m.kind)) assert.equal(m.metadata.namespace, undefined, m.kind);
    else assert.equal(m.metadata.namespace, 'node-metrics', m.kind);
  }
  assert.equal(one(ms, 'Namespace').metadata.name, 'node-metrics');
  assert.equal(one(ms, 'ClusterRoleBinding').subjects[0].namespace, 'node-metrics');
  assert.equal(one(ms, 'RoleBinding').subjects[0].namespace, 'openshift-monitoring');
  assert.equal(one(ms, 'ServiceMonitor').spec.endpoints[0].tlsConfig.serverName, 'procgroup-exporter.node-metrics.svc');
});

test('--namespace refuses openshift-monitoring and invalid names', () => {
  assert.throws(() => render('openshift', { namespace: 'openshift-monitoring' }), /platform monitoring stack/);
  assert.throws(() => render('kubernetes', { namespace: 'Bad_Name' }), /not a valid name/);
});

test('--image replaces the exporter image only', () => {
  const ds = one(render('openshift', { image: 'registry.local:5000/pe:dev' }), 'DaemonSet');
  assert.equal(container(ds, 'exporter').image, 'registry.local:5000/pe:dev');
  assert.match(container(ds, 'kube-rbac-proxy').image, /kube-rbac-proxy/);
});

test('the default image comes from the kustomization images entry', () => {
  const k = parse(readFileSync(path.join(root, 'deploy/kubernetes/kustomization.yaml'), 'utf8'));
  const [image] = k.images;
  assert.equal(container(one(render('kubernetes'), 'DaemonSet'), 'exporter').image, `${image.newName}:${image.newTag}`);
});

test('Namespace is applied first, custom resources after the built-in kinds', () => {
  const kinds = render('openshift').map((m) => m.kind);
  assert.equal(kinds[0], 'Namespace');
  assert.ok(kinds.indexOf('DaemonSet') < kinds.indexOf('ServiceMonitor'));
  assert.ok(kinds.indexOf('ServiceAccount') < kinds.indexOf('DaemonSet'));
  assert.ok(kinds.indexOf('ConfigMap') < kinds.indexOf('DaemonSet'));
});

/** Every key anywhere in `v` whose name ends in File: the file references a ServiceMonitor can hold. */
function fileKeys(v: unknown, at = ''): string[] {
  if (Array.isArray(v)) return v.flatMap((x, i) => fileKeys(x, `${at}[${i}]`));
  if (v === null || typeof v !== 'object') return [];
  return Object.entries(v).flatMap(([k, x]) => [...(/File$/.test(k) ? [`${at}.${k}`] : []), ...fileKeys(x, `${at}.${k}`)]);
}

test('openshift user-workload: the ServiceMonitor names no file, its token Secret and CA ConfigMap are rendered', () => {
  for (const namespace of ['procgroup-exporter', 'node-metrics']) {
    const ms = render('openshift', { monitoring: 'user-workload', namespace });
    const sm = one(ms, 'ServiceMonitor');
    assert.deepEqual(fileKeys(sm.spec), []);
    const [endpoint] = sm.spec.endpoints;
    assert.equal(endpoint.scheme, 'https');
    assert.equal(endpoint.tlsConfig.serverName, `procgroup-exporter.${namespace}.svc`);
    // the token: a service-account-token Secret of a service account bound to GET /metrics
    const secret = ms.find((m) => m.kind === 'Secret' && m.metadata.name === endpoint.authorization.credentials.name) as any;
    assert.equal(secret?.type, 'kubernetes.io/service-account-token');
    assert.equal(secret.metadata.namespace, namespace);
    const account = secret.metadata.annotations['kubernetes.io/service-account.name'];
    assert.ok(ms.some((m) => m.kind === 'ServiceAccount' && m.metadata.name === account && m.metadata.namespace === namespace));
    const reader = ms.find((m: any) => m.kind === 'ClusterRole' && m.rules.some((r: any) => r.nonResourceURLs?.includes('/metrics'))) as any;
    assert.ok(reader, 'a ClusterRole allows GET /metrics');
    const binding = ms.find((m: any) => m.kind === 'ClusterRoleBinding' && m.roleRef.name === reader.metadata.name) as any;
    assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: account, namespace }]);
    // the CA: a ConfigMap the service CA operator fills under the key the endpoint reads
    const ca = ms.find((m) => m.kind === 'ConfigMap' && m.metadata.name === endpoint.tlsConfig.ca.configMap.name) as any;
    assert.equal(ca?.metadata.annotations['service.beta.openshift.io/inject-cabundle'], 'true');
    assert.equal(endpoint.tlsConfig.ca.configMap.key, 'service-ca.crt');
    // user-workload monitoring skips namespaces labelled for the platform stack
    assert.equal(one(ms, 'Namespace').metadata.labels['openshift.io/cluster-monitoring'], undefined);
    assert.equal(ms.some((m: any) => m.kind === 'RoleBinding' && m.subjects.some((x: any) => x.name === 'prometheus-k8s')), false);
    // the same proxy and SCC as the platform variant
    assert.ok(container(one(ms, 'DaemonSet'), 'kube-rbac-proxy'));
    assert.ok(one(ms, 'SecurityContextConstraints'));
  }
  // the platform variant keeps its file references (the platform Prometheus mounts them)
  assert.ok(fileKeys(one(render('openshift'), 'ServiceMonitor').spec).length > 0);
  assert.throws(() => render('kubernetes', { monitoring: 'user-workload' }), /OpenShift only/);
});

test('openshift, both stacks: node-exporter\'s workload-partitioning and SCC-pinning annotations', () => {
  for (const monitoring of ['platform', 'user-workload'] as const) {
    const ms = render('openshift', { monitoring });
    const annotations = one(ms, 'DaemonSet').spec.template.metadata.annotations;
    assert.equal(annotations['openshift.io/required-scc'], one(ms, 'SecurityContextConstraints').metadata.name);
    assert.deepEqual(JSON.parse(annotations['target.workload.openshift.io/management']), { effect: 'PreferredDuringScheduling' });
    assert.equal(one(ms, 'Namespace').metadata.annotations['workload.openshift.io/allowed'], 'management');
  }
});

test('kubernetes: a NetworkPolicy lets only Prometheus pods reach the exporter\'s port', () => {
  const ms = render('kubernetes');
  const np = one(ms, 'NetworkPolicy');
  const ds = one(ms, 'DaemonSet');
  const podLabels = ds.spec.template.metadata.labels;
  for (const [k, v] of Object.entries(np.spec.podSelector.matchLabels)) assert.equal(podLabels[k], v, `selects the exporter pods (${k})`);
  assert.deepEqual(np.spec.policyTypes, ['Ingress']);
  assert.equal(np.spec.ingress.length, 1);
  const [rule] = np.spec.ingress;
  assert.deepEqual(rule.from, [{ namespaceSelector: {}, podSelector: { matchLabels: { 'app.kubernetes.io/name': 'prometheus' } } }]);
  assert.deepEqual(rule.ports, [{ port: container(ds, 'exporter').ports[0].containerPort, protocol: 'TCP' }]);
  // on OpenShift the same port is kube-rbac-proxy's
  const os = render('openshift');
  assert.equal(one(os, 'NetworkPolicy').spec.ingress[0].ports[0].port, container(one(os, 'DaemonSet'), 'kube-rbac-proxy').ports[0].containerPort);
});

test('--perf and --taskstats add their capabilities (and the SCC allows them); without them neither is granted', () => {
  for (const platform of ['kubernetes', 'openshift'] as const) {
    const plain = container(one(render(platform), 'DaemonSet'), 'exporter');
    assert.deepEqual(plain.securityContext.capabilities.add, ['SYS_PTRACE', 'DAC_READ_SEARCH']);
    assert.equal(exporterArgs(one(render(platform), 'DaemonSet'))['collector.perf'], false);

    const ms = render(platform, { features: { perf: true, taskstats: true } });
    const ds = one(ms, 'DaemonSet');
    const exporter = container(ds, 'exporter');
    assert.deepEqual(exporter.securityContext.capabilities.add, ['SYS_PTRACE', 'DAC_READ_SEARCH', 'PERFMON', 'NET_ADMIN']);
    assert.equal(exporterArgs(ds)['collector.perf'], true);
    for (const c of ds.spec.template.spec.containers.filter((x: any) => x.name !== 'exporter')) {
      assert.equal(c.securityContext.capabilities.add, undefined, `${c.name} gets nothing`);
    }
    if (platform === 'openshift') {
      const scc = one(ms, 'SecurityContextConstraints');
      for (const cap of exporter.securityContext.capabilities.add) assert.ok(scc.allowedCapabilities.includes(cap), cap);
    }
    const perfOnly = container(one(render(platform, { features: { perf: true, taskstats: false } }), 'DaemonSet'), 'exporter');
    assert.deepEqual(perfOnly.securityContext.capabilities.add, ['SYS_PTRACE', 'DAC_READ_SEARCH', 'PERFMON']);
  }
});
