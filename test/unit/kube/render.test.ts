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
import { renderManifests, type Platform } from '../../../src/kube/render.js';

const root = path.resolve(import.meta.dirname, '../../..');
const userConfig = {
  // unusual bytes on purpose: comments, quotes, a template, no trailing newline
  text: '# mine\nprocess_names:\n  - name: "{{.Comm}}:{{.Matches.Port}}"\n    cmdline: [\'--port=(?P<Port>\\d+)\']',
  file: '/home/me/pe.yaml',
};

function render(platform: Platform, extra: { namespace?: string; image?: string } = {}): Manifest[] {
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
    assert.equal(one(ms, 'PriorityClass').metadata.name, pod.priorityClassName);
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
