/**
 * `explain PID` on real processes the test starts: a direct match, a group inherited through two
 * generations of parents, a process no rule and no ancestor matches, and a process in a
 * kubepods-shaped cgroup v2 directory named by the kubelet's log link (a container).
 */
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, test } from 'node:test';
import { CgroupSandbox, cgroup2MountPoint } from '../../helpers/cgroup-sandbox.js';
import { repoRoot, waitFor } from '../../helpers/exporter-process.js';
import { startWorkload } from '../../helpers/workload.js';

const dir = mkdtempSync(join(tmpdir(), 'pge-explain-'));
const sandbox = new CgroupSandbox();
after(async () => {
  await sandbox.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const CONFIG = join(dir, 'config.yaml');
writeFileSync(CONFIG, [
  'process_names:',
  '  - name: "direct-{{.Comm}}"',
  '    comm: [ex-direct]',
  '    labels: {team: "t-{{.PID}}"}',
  '  - name: "top:{{.Comm}}"',
  '    comm: [ex-top]',
  '  - name: "{{.Pod}}/{{.Container}}"',
  '    container: {}',
  '',
].join('\n'));

function explain(args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(repoRoot, 'src/cli/main.ts'), 'explain', '-config.path', CONFIG, ...args], { cwd: repoRoot }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, out: stdout + stderr });
    });
  });
}

const childrenOf = (pid: number): number[] => readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);

test('direct match: the rule, the templated name and labels, the rules before it with why they failed', async () => {
  const w = startWorkload('ex-direct', ['threads', '1']);
  try {
    const pid = w.child.pid as number;
    const { code, out } = await explain([String(pid)]);
    assert.equal(code, 0, out);
    assert.match(out, new RegExp(`^pid ${pid} \\(ex-direct\\), ppid ${process.pid}`, 'm'));
    assert.match(out, new RegExp(`group: +"direct-ex-direct" \\{team="t-${pid}"\\}, matched by rule 0`));
    assert.match(out, /rule 0 \{name: "direct-\{\{\.Comm\}\}", comm: \["ex-direct"\].*\}: MATCHES/);
    assert.doesNotMatch(out, /rule 1 /, 'rules after the match are not tried');
  } finally {
    w.stop();
  }
});

test('inherited through two generations: the chain of parents up to the matched ancestor', async () => {
  // ex-top (a script, so its comm is its name) -> ex-mid (script) -> sleep
  for (const [name, body] of [['ex-top', `"${dir}/ex-mid"`], ['ex-mid', 'sleep 300']]) {
    writeFileSync(join(dir, name as string), `#!/bin/bash\n${body} &\nwait\n`);
    chmodSync(join(dir, name as string), 0o755);
  }
  const top = sandbox.adopt(spawn(join(dir, 'ex-top'), [], { stdio: 'ignore', detached: true }));
  try {
    const topPid = top.pid as number;
    const mid = await waitFor('ex-mid', () => childrenOf(topPid)[0]);
    const sleeper = await waitFor('sleep', () => childrenOf(mid)[0]);
    const { code, out } = await explain([String(sleeper)]);
    assert.equal(code, 0, out);
    assert.match(out, new RegExp(`group: +"top:ex-top" \\{team=""\\}, inherited: no rule matches pid ${sleeper}; its ancestor ${topPid} \\(ex-top\\) matched rule 1`));
    assert.match(out, new RegExp(`chain: +${sleeper} \\(sleep\\) -> ${mid} \\(ex-mid\\) -> ${topPid} \\(ex-top\\)$`, 'm'));
    assert.match(out, /rule 0 .*: no: comm "sleep" is not one of \["ex-direct"\]/);
    assert.match(out, /rule 2 .*: no: not in a Kubernetes container/);
    // with -children=false nothing is inherited
    const flat = await explain(['-children=false', String(sleeper)]);
    assert.match(flat.out, /group: +none: no rule matches it \(-children=false/);
  } finally {
    process.kill(-(top.pid as number), 'SIGKILL');
  }
});

test('no rule and no ancestor matches: not tracked, the whole chain shown; a missing pid exits 1', async () => {
  const w = startWorkload('ex-nothing', ['threads', '1']);
  try {
    const pid = w.child.pid as number;
    const { code, out } = await explain([String(pid)]);
    assert.equal(code, 0, out);
    assert.match(out, /group: +none: no rule matches it and no ancestor is matched, so it is not tracked/);
    assert.match(out, new RegExp(`chain: +${pid} \\(ex-nothing\\) -> ${process.pid} \\(`));
    assert.match(out, /chain: .* -> 1 \(/, 'up to pid 1');
    assert.match(out, /rule 0 .*: no: comm "ex-nothing" is not one of/);
    const gone = await explain(['4194304']);
    assert.equal(gone.code, 1);
    assert.match(gone.out, /pid 4194304: no such process/);
  } finally {
    w.stop();
  }
});

const where = cgroup2MountPoint();
const containerSkip = typeof where === 'string' ? false : where.skip;
if (containerSkip) console.log(`# skipping the container case: ${containerSkip}`);

test('container process: identity from its cgroup, names from the kubelet log link under -path.rootfs', { skip: containerSkip }, async () => {
  const uid = '0c9d3c3e-6f0e-4a55-9d1f-2b8a7e6c5d41';
  const id = 'c3'.repeat(32);
  const parent = sandbox.makeCgroup(where as string, `procgroup-explain-${process.pid}`);
  const scope = sandbox.makeCgroup(parent, `kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid.replaceAll('-', '_')}.slice/crio-${id}.scope`);
  const proc = sandbox.startIn(scope, 'sleep', ['300']);
  const rootfs = join(dir, 'rootfs');
  mkdirSync(join(rootfs, 'var/log/containers'), { recursive: true });
  symlinkSync(`/var/log/pods/shop_web-7d9f_${uid}/app/0.log`, join(rootfs, 'var/log/containers', `web-7d9f_shop_app-${id}.log`));
  const pid = proc.pid as number;
  await waitFor('the move into the cgroup', () => (readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(id) ? true : undefined));
  // the test's parent cgroup stands for the kubelet's cgroup root
  const { code, out } = await explain(['-path.rootfs', rootfs, '-kubelet.cgroup-root', `/${relative(where as string, parent)}`, String(pid)]);
  assert.equal(code, 0, out);
  assert.match(out, new RegExp(`container: namespace "shop", pod "web-7d9f", container "app" \\(pod uid ${uid}, container id ${id}, runtime crio, qos burstable\\)`));
  assert.match(out, /group: +"web-7d9f\/app" \{team=""\}, matched by rule 2/);
  assert.match(out, /rule 2 \{name: "\{\{\.Pod\}\}\/\{\{\.Container\}\}", container: \{\}\}: MATCHES/);
});
