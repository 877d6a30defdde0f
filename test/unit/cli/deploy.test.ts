/**
 * `deploy` and `delete` end to end through the CLI, with a stand-in `kubectl`/`oc`: no Kubernetes API
 * server can run here, so a script on PATH records the arguments and the manifests it is fed and
 * answers like the client would. What it receives is checked against the renderer's output.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { findExecutable } from '../../../src/kube/kubectl.js';
import { parseManifests } from '../../../src/kube/manifest.js';
import { renderManifests } from '../../../src/kube/render.js';

const root = path.resolve(import.meta.dirname, '../../..');
const work = mkdtempSync(path.join(tmpdir(), 'pe-deploy-'));
after(() => rmSync(work, { recursive: true, force: true }));

const userConfigFile = path.join(work, 'my-config.yaml');
const userConfig = '# node groups\nprocess_names:\n  - name: "{{.Comm}}"\n    ppid: 1\n';
writeFileSync(userConfigFile, userConfig);

// the CLI runs with PATH set to the stand-ins only, so they call cat by its full path
const cat = findExecutable('cat') ?? '/bin/cat';

/** A directory with stand-in clients `names`; each records into <bin>/<name>.argv and .stdin. */
function fakeClients(names: string[], { exit = 0, stderr = '' } = {}): string {
  const bin = mkdtempSync(path.join(work, 'bin-'));
  for (const name of names) {
    const script = path.join(bin, name);
    writeFileSync(
      script,
      `#!/bin/sh\nprintf '%s\\n' "$@" > "${script}.argv"\n${cat} > "${script}.stdin"\n` +
        `echo "${name}: done"\n${stderr ? `echo '${stderr}' >&2\n` : ''}exit ${exit}\n`,
    );
    chmodSync(script, 0o755);
  }
  return bin;
}

function cli(args: string[], searchPath: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), ...args], {
    cwd: root,
    env: { PATH: searchPath, HOME: work },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const expected = (platform: 'kubernetes' | 'openshift', namespace?: string) =>
  renderManifests({ platform, config: { text: userConfig, file: userConfigFile }, namespace });

test('deploy --platform openshift applies the rendered manifests with oc', () => {
  const bin = fakeClients(['oc', 'kubectl']);
  const r = cli(['deploy', '--platform', 'openshift', '-c', userConfigFile, '-n', 'node-metrics'], bin);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /oc: done/);
  assert.equal(readFileSync(path.join(bin, 'oc.argv'), 'utf8'), 'apply\n-f\n-\n');
  assert.equal(existsSync(path.join(bin, 'kubectl.argv')), false);
  const applied = parseManifests(readFileSync(path.join(bin, 'oc.stdin'), 'utf8'), 'oc stdin');
  assert.deepEqual(applied, expected('openshift', 'node-metrics'));
  const configMap = applied.find((m) => m.kind === 'ConfigMap');
  assert.deepEqual(Object.values((configMap?.['data'] ?? {}) as Record<string, string>), [userConfig]);
});

test('deploy uses kubectl first on kubernetes, or the client given with --kubectl', () => {
  const bin = fakeClients(['oc', 'kubectl']);
  assert.equal(cli(['deploy', '--config', userConfigFile], bin).status, 0);
  assert.equal(readFileSync(path.join(bin, 'kubectl.argv'), 'utf8'), 'apply\n-f\n-\n');
  assert.deepEqual(parseManifests(readFileSync(path.join(bin, 'kubectl.stdin'), 'utf8'), 'stdin'), expected('kubernetes'));

  const other = fakeClients(['my-kubectl']);
  const r = cli(['deploy', '--config', userConfigFile, '--kubectl', path.join(other, 'my-kubectl')], '/nonexistent');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(readFileSync(path.join(other, 'my-kubectl.argv'), 'utf8'), 'apply\n-f\n-\n');
});

test('delete feeds the same manifests in reverse order to `delete --ignore-not-found`', () => {
  const bin = fakeClients(['kubectl']);
  const r = cli(['delete', '-c', userConfigFile], bin);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(readFileSync(path.join(bin, 'kubectl.argv'), 'utf8'), 'delete\n--ignore-not-found\n-f\n-\n');
  assert.deepEqual(parseManifests(readFileSync(path.join(bin, 'kubectl.stdin'), 'utf8'), 'stdin'), expected('kubernetes').reverse());
});

test('--dry-run prints the manifests and runs no client', () => {
  const bin = fakeClients(['kubectl', 'oc']);
  const r = cli(['deploy', '--dry-run', '-p', 'openshift', '-c', userConfigFile], bin);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(parseManifests(r.stdout, 'stdout'), expected('openshift'));
  assert.equal(existsSync(path.join(bin, 'kubectl.argv')) || existsSync(path.join(bin, 'oc.argv')), false);
});

test('a failing client fails the command with the end of its stderr', () => {
  const bin = fakeClients(['kubectl'], { exit: 1, stderr: 'error: resource mapping not found for kind "ServiceMonitor"' });
  const r = cli(['deploy', '-c', userConfigFile], bin);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /procgroup-exporter deploy: kubectl apply -f - exited with 1:\nerror: resource mapping not found for kind "ServiceMonitor"/);
});

test('no client on PATH: a clear error naming --kubectl and --dry-run', () => {
  const empty = path.join(work, 'empty-bin');
  mkdirSync(empty, { recursive: true });
  const r = cli(['deploy', '-c', userConfigFile], empty);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /neither kubectl nor oc found on PATH: give one with --kubectl PATH, or print the manifests with --dry-run/);
});

test('an invalid config is reported with file and line, and nothing is applied', () => {
  const bad = path.join(work, 'bad.yaml');
  writeFileSync(bad, 'process_names:\n  - name: x\n    comm: [a]\n    bogus: 1\n');
  const bin = fakeClients(['kubectl']);
  const r = cli(['deploy', '-c', bad], bin);
  assert.equal(r.status, 1);
  assert.match(r.stderr, new RegExp(`${bad.replace(/[.]/g, '\\.')}:4:\\d+: .*bogus`));
  assert.equal(existsSync(path.join(bin, 'kubectl.argv')), false);
});

test('bad flags exit 2; -h prints the usage', () => {
  const bin = fakeClients(['kubectl']);
  const r = cli(['deploy', '--platform', 'gke'], bin);
  assert.equal(r.status, 2);
  assert.match(r.stderr, /--platform "gke": must be one of kubernetes, openshift/);
  assert.equal(cli(['delete', '-n', 'openshift-monitoring'], bin).status, 2);
  const help = cli(['delete', '-h'], bin);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /^usage: procgroup-exporter delete/);
});

/** A stand-in client that appends every call's arguments (one line) to <bin>/<name>.calls; `rollout` exits `rolloutExit`. */
function recordingClient(name: string, rolloutExit = 0): string {
  const bin = mkdtempSync(path.join(work, 'bin-'));
  const script = path.join(bin, name);
  writeFileSync(
    script,
    `#!/bin/sh\necho "$*" >> "${script}.calls"\nif [ "$1" = rollout ]; then echo 'daemon set "procgroup-exporter" successfully rolled out'; exit ${rolloutExit}; fi\n` +
      `${cat} > "${script}.stdin"\necho "${name}: applied"\n`,
  );
  chmodSync(script, 0o755);
  return bin;
}

test('deploy --monitoring user-workload --perf --taskstats --wait: applies that variant, waits for the rollout, says what it created', () => {
  const bin = recordingClient('oc');
  const r = cli(['deploy', '-p', 'openshift', '--monitoring', 'user-workload', '--perf', '--taskstats', '--wait', '--wait-timeout', '2m', '-n', 'node-metrics', '-c', userConfigFile], bin);
  assert.equal(r.status, 0, r.stderr);
  const calls = readFileSync(path.join(bin, 'oc.calls'), 'utf8').trimEnd().split('\n');
  assert.deepEqual(calls, ['apply -f -', 'rollout status daemonset/procgroup-exporter -n node-metrics --timeout=2m']);
  const want = renderManifests({
    platform: 'openshift',
    monitoring: 'user-workload',
    features: { perf: true, taskstats: true },
    config: { text: userConfig, file: userConfigFile },
    namespace: 'node-metrics',
  });
  assert.deepEqual(parseManifests(readFileSync(path.join(bin, 'oc.stdin'), 'utf8'), 'stdin'), want);
  assert.match(r.stdout, new RegExp(`applied ${want.length} objects in namespace node-metrics:`));
  assert.match(r.stdout, /^ {2}ServiceMonitor: procgroup-exporter$/m);
  assert.match(r.stdout, /^ {2}Secret: procgroup-exporter-scraper-token$/m);
  assert.match(r.stdout, /scraped by: the user-workload Prometheus/);
  assert.match(r.stdout, /with: perf collector \(CAP_PERFMON\), taskstats \(CAP_NET_ADMIN\)/);
  // the summary comes after the client's own output, the rollout after the summary
  assert.ok(r.stdout.indexOf('oc: applied') < r.stdout.indexOf('applied '.concat(String(want.length))));
  assert.ok(r.stdout.indexOf('scraped by') < r.stdout.indexOf('successfully rolled out'));
});

test('deploy --wait: a rollout that does not finish fails the command', () => {
  const bin = recordingClient('kubectl', 1);
  const r = cli(['deploy', '--wait', '-c', userConfigFile], bin);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /kubectl rollout status daemonset\/procgroup-exporter -n procgroup-exporter --timeout=5m exited with 1/);
});

test('--monitoring user-workload is OpenShift only; prom deploy is deploy --platform openshift', () => {
  const bin = recordingClient('oc');
  const bad = cli(['deploy', '--monitoring', 'user-workload'], bin);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--monitoring user-workload: OpenShift only/);
  assert.equal(cli(['deploy', '-p', 'openshift', '--monitoring', 'cluster'], bin).status, 2);
  const prom = cli(['prom', 'deploy', '-c', userConfigFile], bin);
  assert.equal(prom.status, 0, prom.stderr);
  assert.deepEqual(parseManifests(readFileSync(path.join(bin, 'oc.stdin'), 'utf8'), 'stdin'), expected('openshift'));
  assert.match(prom.stdout, /scraped by: the platform Prometheus/);
});
