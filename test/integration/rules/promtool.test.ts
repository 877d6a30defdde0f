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
  const r = spawnSync(promtool ?? 'promtool', args, { cwd, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const testFiles = (dir: string): string[] =>
  readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => path.join(dir, f));

test('promtool check rules', { skip }, () => {
  const r = run(['check', 'rules', rulesFile]);
  assert.equal(r.status, 0, r.out);
  assert.match(r.out, /SUCCESS: 10 rules found/);
});

test('promtool test rules rules/tests/*.yaml', { skip }, () => {
  const files = testFiles(testsDir);
  assert.ok(files.length > 0, 'rule tests exist');
  const r = run(['test', 'rules', ...files]);
  assert.equal(r.status, 0, r.out);
  assert.doesNotMatch(r.out, /FAILED/);
});

// Each change breaks one promise of the rules; the unit tests must notice every one.
const mutations: [string, string, string][] = [
  ['irate window', 'irate(namedprocess_namegroup_cpu_seconds_total[30s])', 'irate(namedprocess_namegroup_cpu_seconds_total[10s])'],
  ['thread labels kept', 'sum without(mode) (irate(namedprocess_namegroup_thread_cpu_seconds_total[30s]))', 'sum without(mode, threadname) (irate(namedprocess_namegroup_thread_cpu_seconds_total[30s]))'],
  ['5m rate', 'sum without(mode) (rate(namedprocess_namegroup_cpu_seconds_total[5m]))', 'sum without(mode) (irate(namedprocess_namegroup_cpu_seconds_total[5m]))'],
  ['non-pod filter', 'class="",groupname!~"conmon.*|containerd-shim.*"', 'class="",groupname!~"conmon.*"'],
  ['pods by class', 'namedprocess_namegroup_cpu_rate5m{class!="",class!="host"}', 'namedprocess_namegroup_cpu_rate5m{class="pod"}'],
  ['host by class', 'namedprocess_namegroup_cpu_rate5m{class="host"}', 'namedprocess_namegroup_cpu_rate5m{groupname!~"conmon.*|containerd-shim.*"}'],
  ['pods by name without class', 'namedprocess_namegroup_cpu_rate5m{class="",groupname=~"conmon.*|containerd-shim.*"}', 'namedprocess_namegroup_cpu_rate5m{groupname=~"conmon.*|containerd-shim.*"}'],
  ['pod CPU 0 when no pods', '          or\n          0 * instance:namedprocess_cpu:rate5m\n', '\n'],
  ['class split', 'sum by (job, instance, class)', 'sum by (job, instance)'],
];

for (const [name, from, to] of mutations) {
  test(`the rule tests catch a broken rule: ${name}`, { skip }, () => {
    const original = readFileSync(rulesFile, 'utf8');
    assert.ok(original.includes(from), `rule text to break: ${from}`);
    const dir = mkdtempSync(path.join(tmpdir(), 'pe-rules-'));
    try {
      cpSync(path.join(root, 'rules'), dir, { recursive: true });
      writeFileSync(path.join(dir, 'procgroup.rules.yaml'), original.replace(from, to));
      const r = run(['test', 'rules', ...testFiles(path.join(dir, 'tests'))]);
      assert.notEqual(r.status, 0, `promtool passed a broken rule (${name}):\n${r.out}`);
      assert.match(r.out, /FAILED/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
