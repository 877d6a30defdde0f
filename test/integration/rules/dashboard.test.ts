/**
 * The Grafana dashboard: well-formed, every query valid PromQL (checked by the real promtool), and
 * every recorded series it reads produced by rules/procgroup.rules.yaml. The e2e test runs the same
 * queries against a live Prometheus scraping the exporter.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parse, stringify } from 'yaml';
import { findExecutable } from '../../../src/kube/kubectl.js';
import { dashboard, dashboardQueries } from '../../helpers/dashboard.js';

const root = path.resolve(import.meta.dirname, '../../..');
const promtool = findExecutable('promtool');

test('panels have unique ids, queries and the data source variable', () => {
  const d = dashboard();
  const ids = new Set<number>();
  for (const p of d.panels as { id: number; type: string; datasource?: { uid?: string } }[]) {
    assert.ok(!ids.has(p.id), `panel id ${p.id} unique`);
    ids.add(p.id);
    if (p.type !== 'row') assert.equal(p.datasource?.uid, '${datasource}');
  }
  assert.deepEqual(d.templating.list.map((v) => v.name), ['datasource', 'instance', 'groupname']);
  const panels = new Set(dashboardQueries().map((q) => q.panel));
  for (const wanted of [/CPU by group/, /Non-pod vs pod CPU/, /Threads by group/, /waited/]) {
    assert.ok([...panels].some((p) => wanted.test(p)), `a panel for ${wanted}`);
  }
});

test('every recorded series the dashboard reads is recorded by the rules', () => {
  const rules = parse(readFileSync(path.join(root, 'rules/procgroup.rules.yaml'), 'utf8'));
  const recorded = new Set<string>(rules.groups.flatMap((g: { rules: { record: string }[] }) => g.rules.map((r) => r.record)));
  const used = new Set(dashboardQueries().flatMap((q) => q.expr.match(/[a-z_]+:[a-z_0-9:]+|namedprocess_namegroup_[a-z_]*rate5?m?\b/g) ?? []));
  assert.ok(used.size >= 6);
  for (const name of used) assert.ok(recorded.has(name), `${name} is recorded by a rule`);
});

test('every dashboard query is valid PromQL (promtool check rules)', { skip: promtool ? false : 'promtool not installed (apt-get install prometheus)' }, () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pe-dashboard-'));
  try {
    const file = path.join(dir, 'dashboard-queries.yaml');
    const rules = dashboardQueries().map((q, i) => ({ record: `dashboard:query:${i}`, expr: q.expr }));
    writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules }] }));
    const r = spawnSync(promtool ?? 'promtool', ['check', 'rules', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, new RegExp(`SUCCESS: ${rules.length} rules found`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
