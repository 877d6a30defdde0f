/**
 * The recording rules checked and unit-tested by the real promtool (Debian's prometheus package),
 * and the unit tests shown to fail when a rule is broken.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { findExecutable } from '../../../src/kube/kubectl.js';

const root = path.resolve(import.meta.dirname, '../../..');
const rulesFile = path.join(root, 'rules/procgroup.rules.yaml');
const testsDir = path.join(root, 'rules/tests');
const promtool = findExecutable('promtool');
const skip = promtool ? false : 'promtool not installed (apt-get install prometheus; .ci/run does)';

function run(args: string[], cwd = root): { status: number | null; out: string } {
  const r = spawnSync(promtool ?? 'promtool', args, { cwd, encoding: 'utf8', timeout: 180_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const testFiles = (dir: string): string[] =>
  readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => path.join(dir, f));

test('promtool check rules', { skip }, () => {
  const r = run(['check', 'rules', rulesFile]);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /SUCCESS: 20 rules found/);
});

test('promtool test rules rules/tests/*.yaml', { skip }, () => {
  const files = testFiles(testsDir);
  assert.ok(files.length > 0, 'rule tests exist');
  const r = run(['test', 'rules', ...files]);
  assert.equal(r.status, 0, r.out);
  assert.doesNotMatch(r.out, /FAILED/);
});

// A day of rule evaluations (the alerts comparing a group with its daily average): only the
// changes to those alerts are checked against it.
const BASELINE_TESTS = 'alerts-baseline.test.yaml';

// Each change breaks one promise of the rules; the unit tests must notice every one. The fourth
// element names the test file that must notice (default: every file but the day-long one).
const mutations: [string, string, string, string?][] = [
  ['irate window', 'irate(namedprocess_namegroup_cpu_seconds_total[30s])', 'irate(namedprocess_namegroup_cpu_seconds_total[10s])'],
  ['thread labels kept', 'sum without(mode) (irate(namedprocess_namegroup_thread_cpu_seconds_total[30s]))', 'sum without(mode, threadname) (irate(namedprocess_namegroup_thread_cpu_seconds_total[30s]))'],
  ['5m rate', 'sum without(mode) (rate(namedprocess_namegroup_cpu_seconds_total[5m]))', 'sum without(mode) (irate(namedprocess_namegroup_cpu_seconds_total[5m]))'],
  ['non-pod filter', 'class="",groupname!~"conmon.*|containerd-shim.*"', 'class="",groupname!~"conmon.*"'],
  ['pods by class', 'namedprocess_namegroup_cpu_rate5m{class!="",class!="host"}', 'namedprocess_namegroup_cpu_rate5m{class="pod"}'],
  ['host by class', 'namedprocess_namegroup_cpu_rate5m{class="host"}', 'namedprocess_namegroup_cpu_rate5m{groupname!~"conmon.*|containerd-shim.*"}'],
  ['pods by name without class', 'namedprocess_namegroup_cpu_rate5m{class="",groupname=~"conmon.*|containerd-shim.*"}', 'namedprocess_namegroup_cpu_rate5m{groupname=~"conmon.*|containerd-shim.*"}'],
  ['pod CPU 0 when no pods', '          or\n          0 * instance:namedprocess_cpu:rate5m\n', '\n'],
  ['class split', 'sum by (job, instance, class)', 'sum by (job, instance)'],
  // alerts: each threshold, and the series it must leave alone
  ['exporter down: for', 'up{job="procgroup-exporter"} == 0\n        for: 5m', 'up{job="procgroup-exporter"} == 0\n        for: 1m'],
  ['walk vs other collectors', 'collector!="walk"', 'collector!=""'],
  ['scrape errors: for', 'increase(namedprocess_scrape_errors[10m]) > 0\n        for: 10m', 'increase(namedprocess_scrape_errors[10m]) > 0\n        for: 1m'],
  ['read errors: rate', '(rate(procgroup_exporter_read_errors_total[10m])) > 1', '(rate(procgroup_exporter_read_errors_total[10m])) > 0.1'],
  ['unaccounted: share', '> 0.2 * instance:procgroup_exporter_host_cpu:rate5m', '> 0.1 * instance:procgroup_exporter_host_cpu:rate5m'],
  ['unaccounted: floor', 'instance:procgroup_exporter_unaccounted_cpu:rate5m > 0.25', 'instance:procgroup_exporter_unaccounted_cpu:rate5m > 0.1'],
  [
    'daemonset: ours only',
    'kube_daemonset_status_desired_number_scheduled{daemonset="procgroup-exporter"}\n          - kube_daemonset_status_number_available{daemonset="procgroup-exporter"}',
    'kube_daemonset_status_desired_number_scheduled\n          - kube_daemonset_status_number_available',
  ],
  ['CPU: factor', '> 3 * avg_over_time(namedprocess_namegroup_cpu_rate5m[1d])', '> 30 * avg_over_time(namedprocess_namegroup_cpu_rate5m[1d])', BASELINE_TESTS],
  ['CPU: floor', 'namedprocess_namegroup_cpu_rate5m > 0.5', 'namedprocess_namegroup_cpu_rate5m > 0.1', BASELINE_TESTS],
  ['churn: floor', 'namedprocess_namegroup_processes_started_rate5m > 1', 'namedprocess_namegroup_processes_started_rate5m > 0.1', BASELINE_TESTS],
];

for (const [name, from, to, file] of mutations) {
  test(`the rule tests catch a broken rule: ${name}`, { skip }, () => {
    const original = readFileSync(rulesFile, 'utf8');
    assert.ok(original.includes(from), `rule text to break: ${from}`);
    const dir = mkdtempSync(path.join(tmpdir(), 'pe-rules-'));
    try {
      cpSync(path.join(root, 'rules'), dir, { recursive: true });
      writeFileSync(path.join(dir, 'procgroup.rules.yaml'), original.replace(from, to));
      const files = testFiles(path.join(dir, 'tests')).filter((f) => (file ? path.basename(f) === file : path.basename(f) !== BASELINE_TESTS));
      const r = run(['test', 'rules', ...files]);
      assert.notEqual(r.status, 0, `promtool passed a broken rule (${name}):\n${r.out}`);
      assert.match(r.out, /FAILED/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
