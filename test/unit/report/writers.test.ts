import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parse as parseYaml } from 'yaml';
import type { Report, ReportRow, SourceReport } from '../../../src/report/build.js';
import { toCsv, toJson, toTable, toYaml } from '../../../src/report/writers.js';

function source(s: Partial<SourceReport> & Pick<SourceReport, 'source' | 'rows' | 'total'>): SourceReport {
  return { basis: 'rule', expression: 'x', ...s };
}

const groupRow = (name: string, avg: number, min: number, max: number): ReportRow => ({
  kind: 'group', name, instance: 'node-a:9256', avg, min, max,
});

const report = (sources: SourceReport[]): Report => ({
  url: 'https://prom.example/',
  at: new Date('2024-05-01T12:00:00Z'),
  window: { range: '1h' },
  sortBy: 'avg',
  sources,
  missing: [],
  warnings: [],
});

const both = report([
  source({
    source: 'groups',
    basis: 'raw',
    expression: 'sum without(mode) (irate(c[30s]))',
    rows: [groupRow('kube, "let"', 2.8125000000000004, 0.5, 4.25)],
    total: { kind: 'total', name: 'groups', avg: 2.8125, min: 0.5, max: 4.25 },
  }),
  source({
    source: 'pods',
    rows: [{ kind: 'pod', namespace: 'app', name: 'web-1', avg: NaN, min: -Infinity, max: Infinity }],
    total: { kind: 'total', name: 'pods', avg: 0.1, min: 0.1, max: 0.1 },
  }),
]);

test('csv: RFC 4180 quoting, last-bit noise dropped, non-finite values spelled as Prometheus does', () => {
  assert.equal(
    toCsv(both),
    [
      'kind,namespace,name,instance,avg,min,max',
      'group,,"kube, ""let""",node-a:9256,2.8125,0.5,4.25',
      'total,,groups,,2.8125,0.5,4.25',
      'pod,app,web-1,,NaN,-Inf,+Inf',
      'total,,pods,,0.1,0.1,0.1',
      '',
    ].join('\n'),
  );
});

test('json and yaml carry the query context and the same rows', () => {
  const fromJson = JSON.parse(toJson(both)) as Record<string, unknown>;
  const fromYaml = parseYaml(toYaml(both)) as Record<string, unknown>;
  assert.deepEqual(fromJson['sources'], [
    { source: 'groups', basis: 'raw', expression: 'sum without(mode) (irate(c[30s]))' },
    { source: 'pods', basis: 'rule', expression: 'x' },
  ]);
  assert.equal(fromJson['at'], '2024-05-01T12:00:00.000Z');
  assert.equal(fromJson['unit'], 'cores');
  assert.equal(fromJson['step'], undefined);
  const rows = fromJson['rows'] as Array<Record<string, unknown>>;
  assert.deepEqual(rows[0], { kind: 'group', name: 'kube, "let"', instance: 'node-a:9256', avg: 2.8125, min: 0.5, max: 4.25 });
  // JSON has no NaN/Inf: null; YAML keeps them
  assert.deepEqual(rows[2], { kind: 'pod', namespace: 'app', name: 'web-1', avg: null, min: null, max: null });
  const yamlRows = fromYaml['rows'] as Array<Record<string, unknown>>;
  assert.ok(Number.isNaN(yamlRows[2]!['avg']));
  assert.equal(yamlRows[2]!['max'], Infinity);
  assert.deepEqual(yamlRows.slice(0, 2), rows.slice(0, 2));
  // long expressions stay on one line
  assert.match(toYaml(both), /expression: sum without\(mode\) \(irate\(c\[30s\]\)\)\n/);
});

test('table: columns nobody uses are left out, numbers right-aligned to the millicore', () => {
  const onlyGroups = report([
    source({
      source: 'groups',
      rows: [groupRow('systemd', 1.0625, 0.125, 2), groupRow('crio', 0.0004, 0.0004, 0.0004)],
      total: { kind: 'total', name: 'groups', avg: 1.0629, min: 0.1254, max: 2.0004 },
    }),
  ]);
  assert.equal(
    toTable(onlyGroups),
    [
      'KIND   NAME     INSTANCE       AVG    MIN    MAX',
      'group  systemd  node-a:9256  1.063  0.125  2.000',
      'group  crio     node-a:9256  0.000  0.000  0.000',
      'total  groups                1.063  0.125  2.000',
      '',
    ].join('\n'),
  );
});
