import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { formatField, loadConfigFile, parseConfig } from '../../../src/config/load.js';
import { ConfigError, type ConfigProblem } from '../../../src/errors.js';
import { fakeProcess, totalCalls } from './process-fixture.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/** The problems parseConfig reports for `text`, as "line:column field: message". */
function problemsOf(text: string): ConfigProblem[] {
  try {
    parseConfig(text, 'cfg.yaml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'CONFIG_INVALID');
    for (const p of err.problems) assert.equal(p.file, 'cfg.yaml');
    return [...err.problems];
  }
  assert.fail('config was accepted');
}

function brief(p: ConfigProblem): string {
  return `${p.line}:${p.column} ${p.field}`;
}

test('formatField renders paths like process_names[2].cmdline[0]', () => {
  assert.equal(formatField(['process_names', 2, 'cmdline', 0]), 'process_names[2].cmdline[0]');
  assert.equal(formatField(['process_names', 0, 'labels', 'a b']), 'process_names[0].labels["a b"]');
  assert.equal(formatField([]), '');
});

test('unknown key: file, line, column of the key, field path and a suggestion', () => {
  const text = 'process_names:\n  - comm: [bash]\n    cmdlin: [x]\n';
  const [p, ...rest] = problemsOf(text);
  assert.equal(rest.length, 0);
  assert.deepEqual(p, {
    file: 'cfg.yaml', line: 3, column: 5, field: 'process_names[0].cmdlin',
    message: 'unknown key "cmdlin" (did you mean "cmdline"?)',
  });
  assert.throws(() => parseConfig(text, 'cfg.yaml'), {
    message: 'cfg.yaml:3:5: process_names[0].cmdlin: unknown key "cmdlin" (did you mean "cmdline"?)',
  });
  const [top] = problemsOf('process_names:\n  - comm: [a]\npsi: {enabled: true}\nextra: 1\n');
  assert.equal(brief(top as ConfigProblem), '4:1 extra');
  assert.match((top as ConfigProblem).message, /allowed keys: process_names, psi, perf/);
  const [nested] = problemsOf("process_names:\n  - container: {namespace: x, image: y}\n");
  assert.equal(brief(nested as ConfigProblem), '2:31 process_names[0].container.image');
});

test('bad regex: points into the string at the offending construct', () => {
  const text = [
    'process_names:',
    '  - name: x',
    '    cmdline:',
    "      - 'ok'",
    "      - 'java a**'",
    '      - "(?P<p>\\\\d+"',
    '      - ab(?=c)',
  ].join('\n');
  const problems = problemsOf(text);
  assert.deepEqual(problems.map(brief), [
    '5:16 process_names[0].cmdline[1]',
    '6:9 process_names[0].cmdline[2]',
    '7:11 process_names[0].cmdline[3]',
  ]);
  assert.match(problems[0]?.message ?? '', /^bad regex "java a\*\*": invalid nested repetition operator/);
  assert.match(problems[1]?.message ?? '', /missing closing \)/);
  assert.match(problems[2]?.message ?? '', /invalid or unsupported Perl syntax/);
});

test('bad template: names the field and the position inside the template', () => {
  const text = 'process_names:\n  - comm: [a]\n    name: "{{.Comm}}-{{.Exe}}"\n    labels:\n      class: "{{if .Pod}}x"\n';
  const problems = problemsOf(text);
  assert.deepEqual(problems.map(brief), ['3:24 process_names[0].name', '5:15 process_names[0].labels.class']);
  assert.match(problems[0]?.message ?? '', /unknown variable \.Exe;/);
  assert.match(problems[1]?.message ?? '', /unclosed \{\{if\}\}/);
  const [m] = problemsOf("process_names:\n  - cmdline: ['(?P<port>\\d+)']\n    name: '{{.Matches.Port}}'\n");
  assert.match(m?.message ?? '', /no regex of this rule has a capture group named 'Port' \(defined: port\)/);
});

test('wrong types: expected and actual named, at the value', () => {
  const text = [
    'process_names:',
    '  - comm: bash',
    '    ppid: "1"',
    '  - pid: [1, -3]',
    '    name: 7',
    '  - exe: [""]',
    '  - null',
    'psi: {enabled: yes}',
    'perf: {scope: cpu, max_fds: 0, events: [CPUCycles, CPUCycles]}',
  ].join('\n');
  const problems = problemsOf(text);
  const byField = Object.fromEntries(problems.map((p) => [p.field, `${p.line}:${p.column} ${p.message}`]));
  assert.equal(byField['process_names[0].comm'], '2:11 must be a list, got the string "bash"');
  assert.equal(byField['process_names[0].ppid'], '3:11 must be an integer or a list, got the string "1"');
  assert.equal(byField['process_names[1].pid[1]'], '4:14 must be >= 1, got the integer -3');
  assert.equal(byField['process_names[1].name'], '5:11 must be a string, got the integer 7');
  assert.equal(byField['process_names[2].exe[0]'], '6:11 must not be empty');
  assert.equal(byField['process_names[3]'], '7:5 must be a mapping, got nothing');
  assert.equal(byField['psi.enabled'], '8:16 must be true or false, got the string "yes" (write true or false)');
  assert.equal(byField['perf.scope'], '9:15 must be one of "task", "cgroup", "auto", got the string "cpu"');
  assert.equal(byField['perf.max_fds'], '9:29 must be >= 1, got the integer 0');
  assert.equal(byField['perf.events[1]'], '9:52 duplicate of item 0');
});

test('every problem is reported at once, sorted by position', () => {
  const text = [
    'process_names:',
    '  - cmdline: ["(x"]',
    '    labels: {groupname: a, "bad-name": b, ok: "{{.Nope}}"}',
    '  - name: "{{.Comm}}"',
    '  - comm: [kube-controller-manager]',
    'psi: {averages: 1}',
  ].join('\n');
  const problems = problemsOf(text);
  assert.deepEqual(problems.map(brief), [
    '2:16 process_names[0].cmdline[0]',
    '3:14 process_names[0].labels.groupname',
    '3:28 process_names[0].labels["bad-name"]',
    '3:50 process_names[0].labels.ok',
    '4:5 process_names[1]',
    '5:12 process_names[2].comm[0]',
    '6:17 psi.averages',
  ]);
  assert.match(problems[1]?.message ?? '', /reserved/);
  assert.match(problems[2]?.message ?? '', /not a valid Prometheus label name/);
  assert.match(problems[4]?.message ?? '', /rule has no matcher/);
  assert.match(problems[5]?.message ?? '', /longer than 15 bytes.*truncates comm to "kube-controller"/);
});

test('YAML syntax errors and duplicate keys are located', () => {
  const [syntax] = problemsOf('process_names:\n  - comm: [bash\n  - pid: 1\n');
  assert.equal(syntax?.field, '');
  assert.match(syntax?.message ?? '', /^YAML: /);
  assert.ok((syntax?.line ?? 0) >= 2);
  const [dup] = problemsOf('process_names:\n  - comm: [a]\n    comm: [b]\n');
  assert.equal(`${dup?.line}:${dup?.column}`, '3:5');
  assert.match(dup?.message ?? '', /YAML: Map keys must be unique/);
  const tabs = problemsOf('process_names:\n\t- comm: [a]\n');
  assert.ok(tabs.length >= 1);
});

test('empty, missing or mistyped top level', () => {
  assert.match(problemsOf('')[0]?.message ?? '', /config is empty/);
  assert.match(problemsOf('# only a comment\n')[0]?.message ?? '', /config is empty/);
  assert.deepEqual(problemsOf('- comm: [a]\n').map((p) => `${brief(p)} ${p.message}`), ['1:1  must be a mapping, got a list']);
  assert.deepEqual(problemsOf('psi: {enabled: true}\n').map((p) => `${brief(p)} ${p.message}`), ['1:1 process_names missing required key']);
  assert.deepEqual(problemsOf('process_names: []\n').map((p) => `${brief(p)} ${p.message}`), ['1:16 process_names must not be an empty list']);
});

test('anchors, aliases and merge keys load; problems inside merged maps point at their source', () => {
  const merged = parseConfig([
    'process_names:',
    '  - &pid1 {pid: 1, name: init}',
    '  - <<: *pid1',
    '    name: "again"',
  ].join('\n'), 'cfg.yaml');
  assert.equal(merged.matcher.match(fakeProcess({ pid: 1, ppid: 0, comm: 'systemd' }))?.name, 'init');
  const [bad] = problemsOf([
    'process_names:',
    '  - &r {comm: [a], cmdline: ["(x"]}',
    '  - <<: *r',
  ].join('\n'));
  assert.equal(brief(bad as ConfigProblem), '2:31 process_names[0].cmdline[0]');
});

test('psi and perf options: defaults and typed values', () => {
  const plain = parseConfig('process_names:\n  - pid: 1\n', 'cfg.yaml');
  assert.deepEqual(plain.psi, { enabled: false, averages: false });
  assert.deepEqual(plain.perf, { enabled: false, events: undefined, scope: 'auto', inherit: 'threads', maxFds: 4096 });
  assert.equal(plain.file, 'cfg.yaml');
  const set = parseConfig([
    'process_names:',
    '  - pid: 1',
    'psi: {enabled: true, averages: true}',
    'perf:',
    '  enabled: true',
    '  events: [CPUCycles, TaskClock]',
    '  scope: cgroup',
    '  inherit: tree',
    '  max_fds: 256',
  ].join('\n'), 'cfg.yaml');
  assert.deepEqual(set.psi, { enabled: true, averages: true });
  assert.deepEqual(set.perf, { enabled: true, events: ['CPUCycles', 'TaskClock'], scope: 'cgroup', inherit: 'tree', maxFds: 256 });
  const badEvent = problemsOf('process_names:\n  - pid: 1\nperf: {events: [CPUCycles, NoSuchEvent]}\n');
  assert.equal(badEvent[0]?.line, 3);
  assert.match(badEvent[0]?.field ?? '', /perf\.events\[1\]/);
  assert.match(problemsOf('process_names:\n  - pid: 1\nperf: {events: []}\n')[0]?.message ?? '', /must not be an empty list/);
});

test('loadConfigFile reads a file; an unreadable path is CONFIG_READ_FAILED with the errno', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pge-config-'));
  try {
    const file = join(dir, 'c.yaml');
    writeFileSync(file, 'process_names:\n  - comm: [bash]\n    name: "{{.Comm}}"\n');
    const cfg = loadConfigFile(file);
    assert.equal(cfg.file, file);
    assert.equal(cfg.matcher.match(fakeProcess({ pid: 9, comm: 'bash' }))?.name, 'bash');

    writeFileSync(file, 'process_names:\n  - comm: [bash]\n    bogus: 1\n');
    assert.throws(() => loadConfigFile(file), { code: 'CONFIG_INVALID', message: `${file}:3:5: process_names[0].bogus: unknown key "bogus" (allowed keys: name, comm, exe, cmdline, pid, ppid, cgroup, container, labels, threads)` });

    const fifo = join(dir, 'fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    const big = join(dir, 'big.yaml');
    writeFileSync(big, `# ${'x'.repeat(10 << 20)}\n`);
    const cases: [string, RegExp][] = [
      [join(dir, 'missing.yaml'), /cannot read config file: ENOENT$/],
      [dir, /cannot read config file: a directory, not a regular file$/],
      [fifo, /cannot read config file: a FIFO, not a regular file$/],
      ['/dev/zero', /cannot read config file: a character device, not a regular file$/],
      [big, /cannot read config file: larger than 256 KiB \(10485763 bytes\)$/],
    ];
    for (const [path, message] of cases) {
      assert.throws(() => loadConfigFile(path), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.code, 'CONFIG_READ_FAILED');
        assert.equal(err.problems[0]?.file, path);
        assert.ok(err.message.startsWith(`${path}: `), err.message);
        assert.match(err.message, message);
        return true;
      });
    }
    assert.equal(((loadConfigFileError(join(dir, 'missing.yaml')).cause as Error).cause as NodeJS.ErrnoException).code, 'ENOENT', 'the errno is kept as the cause');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function loadConfigFileError(path: string): Error {
  try {
    loadConfigFile(path);
  } catch (err) {
    return err as Error;
  }
  throw new Error(`${path} loaded`);
}

test('config/default.yaml: pid 1, kernel threads, every top-level process by comm, reading only stat fields', () => {
  const cfg = loadConfigFile(join(REPO, 'config/default.yaml'));
  assert.deepEqual(cfg.needs, { cmdline: false, username: false, cgroup: false, container: false });
  assert.deepEqual(cfg.matcher.labelNames, []);
  const m = cfg.matcher;
  const cases: [Parameters<typeof fakeProcess>[0], string | undefined][] = [
    [{ pid: 1, ppid: 0, comm: 'systemd', cmdline: ['/usr/lib/systemd/systemd', '--switched-root'] }, 'pid1:systemd'],
    [{ pid: 2, ppid: 0, comm: 'kthreadd' }, 'kernel'],
    [{ pid: 1234, ppid: 1, comm: 'systemd', cmdline: ['/usr/lib/systemd/systemd', '--user'] }, 'systemd'],
    [{ pid: 800, ppid: 1, comm: 'crio' }, 'crio'],
    [{ pid: 900, ppid: 1, comm: 'conmon' }, 'conmon'],
    [{ pid: 901, ppid: 1, comm: 'systemd-journal' }, 'systemd-journal'],
    // kernel threads (ppid 2) and pod processes (ppid conmon) match nothing: they fold into
    // kthreadd's / conmon's group through the tracker's children mechanism
    [{ pid: 57, ppid: 2, comm: 'kworker/0:1' }, undefined],
    [{ pid: 950, ppid: 900, comm: 'coredns' }, undefined],
    // pid 2 that is not kthreadd (inside a PID namespace) is not the kernel group
    [{ pid: 2, ppid: 1, comm: 'sleep' }, 'sleep'],
  ];
  for (const [d, want] of cases) {
    const p = fakeProcess(d);
    assert.equal(m.match(p)?.name, want, `pid ${d.pid} ${d.comm}`);
    assert.equal(totalCalls(p), 0, 'default config reads only stat fields');
  }
});

test('config/examples: process-exporter style and openshift-containers load and group as documented', () => {
  const pe = loadConfigFile(join(REPO, 'config/examples/process-exporter.yaml')).matcher;
  assert.equal(pe.match(fakeProcess({ pid: 5, comm: 'bash', cmdline: ['-bash'] }))?.name, 'bash');
  assert.equal(pe.match(fakeProcess({ pid: 6, comm: 'postgres', cmdline: ['/usr/lib/postgresql/16/bin/postgres'] }))?.name, 'postgres');
  assert.equal(pe.match(fakeProcess({ pid: 7, comm: 'process-exporte', cmdline: ['/usr/local/bin/process-exporter', '-config.path', '/etc/pe.yml'] }))?.name, 'process-exporter:/etc/pe.yml');
  assert.equal(pe.match(fakeProcess({ pid: 8, comm: 'java', cmdline: ['java', '-Xmx2g', '-jar', '/opt/app/billing-2.1.jar'] }))?.name, 'java:billing-2.1');
  assert.equal(pe.match(fakeProcess({ pid: 9, comm: 'sleep', cmdline: ['sleep', '5'] }))?.name, 'sleep');
  assert.equal(pe.match(fakeProcess({ pid: 10, ppid: 2, comm: 'kworker/1:0' })), undefined);

  const oc = loadConfigFile(join(REPO, 'config/examples/openshift-containers.yaml'));
  assert.deepEqual(oc.matcher.labelNames, ['class', 'container', 'namespace', 'pod']);
  assert.deepEqual(oc.needs, { cmdline: false, username: false, cgroup: false, container: true });
  const pod = (namespace: string) => fakeProcess({ pid: 100, ppid: 99, comm: 'x', container: { namespace, pod: 'p-1', container: 'c' } });
  assert.deepEqual(oc.matcher.match(pod('openshift-etcd')), {
    name: 'openshift-etcd/p-1/c', labels: { class: 'infra', container: 'c', namespace: 'openshift-etcd', pod: 'p-1' }, rule: 2, threads: undefined,
  });
  assert.equal(oc.matcher.match(pod('kube-system'))?.labels.class, 'infra');
  assert.equal(oc.matcher.match(pod('openshift'))?.labels.class, 'infra');
  assert.equal(oc.matcher.match(pod('shop'))?.labels.class, 'workload');
  // a container no source names: its short ID (set by the resolver), its pod by UID, never '//'
  const uid = '0c9d3c3e-6f0e-4a55-9d1f-2b8a7e6c5d41';
  assert.deepEqual(oc.matcher.match(fakeProcess({ pid: 101, ppid: 99, comm: 'x', container: { podUid: uid, container: 'd1035ad30371' } })), {
    name: `pod${uid}/d1035ad30371`, labels: { class: 'workload', container: 'd1035ad30371', namespace: '', pod: '' }, rule: 2, threads: undefined,
  });
  assert.deepEqual(oc.matcher.match(fakeProcess({ pid: 800, ppid: 1, comm: 'kubelet' })), {
    name: 'kubelet', labels: { class: 'host', container: '', namespace: '', pod: '' }, rule: 3, threads: undefined,
  });
  assert.equal(oc.matcher.match(fakeProcess({ pid: 1, ppid: 0, comm: 'systemd' }))?.name, 'pid1:systemd');
});

test('property: on any YAML-ish input the loader returns a config or throws ConfigError, nothing else', () => {
  const fragments = [
    'process_names:', '- ', '  - ', '    ', '\n', ': ', 'name: ', 'comm: ', 'exe: ', 'cmdline: ', 'pid: ', 'ppid: ',
    'cgroup: ', 'container: ', 'labels: ', 'psi: ', 'perf: ', 'enabled: ', 'events: ', 'scope: ', 'max_fds: ',
    '{', '}', '[', ']', ',', '"', "'", '&a ', '*a', '<<: ', '!!str ', '!!binary ', '#', '---', '...', '|', '>',
    '{{.Comm}}', '{{if .Pod}}', '{{end}}', '{{.Matches.X}}', '(?P<X>a)', '(?i:', '\\', '[[:alpha:]]', '\\p{Greek}',
    '1', '-1', '0x10', '1.5', 'true', 'yes', 'null', '~', 'a', 'kube-controller-manager', '\t', '?', '%YAML 1.1',
  ];
  const yamlish = fc.array(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...fragments) }, fc.string({ maxLength: 6 })), { maxLength: 40 })
    .map((parts) => parts.join(''));
  const prefixed = yamlish.map((s) => `process_names:\n  - ${s}`);
  let accepted = 0;
  let rejected = 0;
  fc.assert(
    fc.property(fc.oneof(yamlish, prefixed, fc.string()), (text) => {
      try {
        parseConfig(text, 'fuzz.yaml');
        accepted++;
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        rejected++;
        assert.ok(err.problems.length > 0);
        for (const p of err.problems) {
          assert.equal(p.file, 'fuzz.yaml');
          assert.ok(p.line >= 1 && p.column >= 1, `position ${p.line}:${p.column}`);
          assert.ok(p.message.length > 0);
        }
      }
    }),
    { numRuns: 2000, seed: 20240601 },
  );
  assert.ok(rejected > 0);
  assert.ok(accepted + rejected === 2000);
});
