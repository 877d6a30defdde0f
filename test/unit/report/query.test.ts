import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GROUPS, PODS, probeQuery, promString, rowsQuery, seriesExpr, totalQuery } from '../../../src/report/query.js';

const ex = { exporterName: 'procgroup-exporter.*', skipNamespaces: ['perf-test', 'openshift-etcd'] };

test('groups: host groups only (class="host", or no class and not a pod-monitor group), without the exporter group; pods without the exporter pod (real pod label) and skipped namespaces', () => {
  assert.equal(
    seriesExpr(GROUPS, 'rule', ex),
    'namedprocess_namegroup_cpu_rate{class="host",groupname!~"procgroup-exporter.*"} or ' +
      'namedprocess_namegroup_cpu_rate{class="",groupname!~"conmon.*|containerd-shim.*",groupname!~"procgroup-exporter.*"}',
  );
  assert.equal(
    seriesExpr(PODS, 'rule', ex),
    'pod:container_cpu_usage:sum{pod!~"procgroup-exporter.*",namespace!="perf-test",namespace!="openshift-etcd"}',
  );
});

test('raw expressions are the recording rules with the exclusions on the counter', () => {
  assert.equal(
    seriesExpr(GROUPS, 'raw', ex),
    'sum without(mode) (irate(namedprocess_namegroup_cpu_seconds_total{class="host",groupname!~"procgroup-exporter.*"}[30s])) or ' +
      'sum without(mode) (irate(namedprocess_namegroup_cpu_seconds_total{class="",groupname!~"conmon.*|containerd-shim.*",groupname!~"procgroup-exporter.*"}[30s]))',
  );
  assert.equal(
    seriesExpr(PODS, 'raw', { exporterName: 'x', skipNamespaces: [] }),
    'sum by (namespace, pod) (rate(container_cpu_usage_seconds_total{container!="",pod!="",pod!~"x"}[5m]))',
  );
});

test('rows and totals are subqueries at the same step; the step defaults to the evaluation interval', () => {
  const noSkip = { exporterName: 'e', skipNamespaces: [] };
  assert.equal(
    rowsQuery(PODS, 'rule', noSkip, 'max', { range: '1h' }),
    'max_over_time((pod:container_cpu_usage:sum{pod!~"e"})[1h:])',
  );
  assert.equal(
    totalQuery(PODS, 'rule', noSkip, 'min', { range: '2h', step: '30s' }),
    'min_over_time((sum(pod:container_cpu_usage:sum{pod!~"e"}))[2h:30s])',
  );
});

test('probes look for any sample of the recorded series or of the raw counter, unfiltered', () => {
  assert.equal(probeQuery(GROUPS, 'rule', '1h'), 'count(last_over_time(namedprocess_namegroup_cpu_rate[1h]))');
  assert.equal(probeQuery(PODS, 'raw', '90m'), 'count(last_over_time(container_cpu_usage_seconds_total[90m]))');
});

test('label values are quoted as PromQL strings, backslashes and quotes escaped', () => {
  assert.equal(promString('a"b\\d+'), '"a\\"b\\\\d+"');
  assert.deepEqual(GROUPS.matchers({ exporterName: 'pe-\\d+', skipNamespaces: [] }), [
    'class="host",groupname!~"pe-\\\\d+"',
    'class="",groupname!~"conmon.*|containerd-shim.*",groupname!~"pe-\\\\d+"',
  ]);
});

test('rows are identified by groupname+instance and by namespace+pod', () => {
  assert.deepEqual(GROUPS.rowKey({ groupname: 'crio', instance: 'n1:9256', job: 'j', namespace: 'pe' }), {
    name: 'crio',
    instance: 'n1:9256',
  });
  assert.deepEqual(PODS.rowKey({ namespace: 'app', pod: 'web-1' }), { name: 'web-1', namespace: 'app' });
});
