import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import {
  namesFromKubernetesKeys,
  parseContainerLogName,
  parseDockerConfigNames,
  parseOciConfigNames,
  parsePodLogTarget,
} from '../../../src/cgroup/container-names.js';
import { ParseError } from '../../../src/errors.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../../fixtures/cgroup/containers/${name}`, import.meta.url), 'utf8');
const ID = '18c5c007ff7f8fa8c3412987b15c1ccaea766bd6d6ed47af707eccad680eb2b9';

test('log link name: pod, namespace, container (with dashes), ID', () => {
  assert.deepEqual(parseContainerLogName(`node-exporter-x7k2p_openshift-monitoring_kube-rbac-proxy-${ID}.log`), {
    pod: 'node-exporter-x7k2p',
    namespace: 'openshift-monitoring',
    container: 'kube-rbac-proxy',
    containerId: ID,
  });
  assert.deepEqual(parseContainerLogName(`etcd-master-0.example.com_openshift-etcd_etcd-${ID}.log`), {
    pod: 'etcd-master-0.example.com',
    namespace: 'openshift-etcd',
    container: 'etcd',
    containerId: ID,
  });
});

test('log link name: other names are not container logs', () => {
  for (const name of [
    `web_shop-${ID}.log`, // two parts
    `a_b_c_d-${ID}.log`, // four parts
    `web_shop_nginx-${ID.slice(1)}.log`, // short ID
    `web_shop_nginx-${ID}.log.1`,
    `web_shop_nginx${ID}.log`, // no dash before the ID
    `web_shop_-${ID}.log`, // empty container name
    'README',
    '',
  ]) {
    assert.equal(parseContainerLogName(name), undefined, name);
  }
});

test('log link target: pod UID from /var/log/pods/<ns>_<pod>_<uid>/<container>/<n>.log', () => {
  assert.deepEqual(
    parsePodLogTarget('/var/log/pods/openshift-monitoring_node-exporter-x7k2p_869cf449-9254-42a9-a3f3-635768904276/node-exporter/3.log'),
    { namespace: 'openshift-monitoring', pod: 'node-exporter-x7k2p', podUid: '869cf449-9254-42a9-a3f3-635768904276' },
  );
  // static pod: hash UID
  assert.equal(
    parsePodLogTarget('/var/log/pods/kube-system_kube-apiserver-cp0_4e1f8b1c2d5c0e1a7f7a4c8b9d3e2f10/kube-apiserver/0.log')?.podUid,
    '4e1f8b1c2d5c0e1a7f7a4c8b9d3e2f10',
  );
  // pre-1.14 layout without names, and targets that are no kubelet log at all
  assert.equal(parsePodLogTarget('/var/log/pods/869cf449-9254-42a9-a3f3-635768904276/nginx_0.log'), undefined);
  assert.equal(parsePodLogTarget('/var/lib/docker/containers/abc/abc-json.log'), undefined);
});

test('CRI-O config.json: names from io.kubernetes.* annotations', () => {
  assert.deepEqual(parseOciConfigNames(fixture('crio-container-config.json'), 'c.json'), {
    namespace: 'openshift-monitoring',
    pod: 'node-exporter-x7k2p',
    container: 'node-exporter',
    podUid: '869cf449-9254-42a9-a3f3-635768904276',
  });
  assert.deepEqual(parseOciConfigNames(fixture('crio-sandbox-config.json'), 's.json'), {
    namespace: 'openshift-monitoring',
    pod: 'node-exporter-x7k2p',
    container: 'POD',
    podUid: '869cf449-9254-42a9-a3f3-635768904276',
  });
});

test('containerd config.json: names from io.kubernetes.cri.* annotations; the sandbox is POD', () => {
  assert.deepEqual(parseOciConfigNames(fixture('containerd-container-config.json'), 'c.json'), {
    namespace: 'shop',
    pod: 'web-7d4b9c6f5d-q2x8z',
    container: 'web',
    podUid: '3697790b-a759-48ca-84bd-abf59b0ebd73',
  });
  assert.deepEqual(parseOciConfigNames(fixture('containerd-sandbox-config.json'), 's.json'), {
    namespace: 'shop',
    pod: 'web-7d4b9c6f5d-q2x8z',
    container: 'POD',
    podUid: '3697790b-a759-48ca-84bd-abf59b0ebd73',
  });
});

test('Docker config.v2.json: names from Config.Labels', () => {
  assert.deepEqual(parseDockerConfigNames(fixture('docker-config.v2.json'), 'c.json'), {
    namespace: 'kube-system',
    pod: 'coredns-5d78c9869d-4wq7h',
    container: 'coredns',
    podUid: '1fdb4384-b32b-40e9-a6d7-139372931aea',
  });
  assert.equal(parseDockerConfigNames(fixture('docker-sandbox-config.v2.json'), 's.json').container, 'POD');
});

test('a container without Kubernetes keys has no names', () => {
  const none = { namespace: undefined, pod: undefined, container: undefined, podUid: undefined };
  assert.deepEqual(parseOciConfigNames('{"ociVersion":"1.0.2","annotations":{"org.opencontainers.image.title":"x"}}', 'f'), none);
  assert.deepEqual(parseOciConfigNames('{"ociVersion":"1.0.2"}', 'f'), none);
  assert.deepEqual(parseDockerConfigNames('{"Config":{"Labels":null}}', 'f'), none);
  // a sandbox marker alone does not invent a name
  assert.deepEqual(namesFromKubernetesKeys({ 'io.kubernetes.cri.container-type': 'sandbox' }), none);
  // values must be non-empty strings
  assert.deepEqual(namesFromKubernetesKeys({ 'io.kubernetes.pod.name': 42, 'io.kubernetes.pod.namespace': '' }), none);
});

test('corrupt JSON: a ParseError naming the file', () => {
  for (const text of ['{"annotations": {', '[1,2]', 'null']) {
    assert.throws(
      () => parseOciConfigNames(text, '/run/x/config.json'),
      (err: unknown) => err instanceof ParseError && err.code === 'PARSE_FAILED' && err.file === '/run/x/config.json',
    );
  }
  assert.throws(() => parseDockerConfigNames('', '/d/config.v2.json'), /\/d\/config\.v2\.json/);
});
