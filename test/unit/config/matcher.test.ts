import assert from 'node:assert/strict';
import { test } from 'node:test';
import { goBase, labelNameProblem } from '../../../src/config/matcher.js';
import { parseConfig } from '../../../src/config/load.js';
import { fakeProcess, totalCalls, type ProcessData } from './process-fixture.js';

function matcherOf(yaml: string) {
  return parseConfig(yaml, 'test.yaml').matcher;
}

/** Group name of a process, or undefined when no rule matches. */
function nameOf(yaml: string, d: ProcessData): string | undefined {
  return matcherOf(yaml).match(fakeProcess(d))?.name;
}

const KTHREAD: ProcessData = { pid: 57, ppid: 2, comm: 'kworker/0:1', cmdline: [] };

test('goBase behaves like Go filepath.Base', () => {
  assert.equal(goBase('/usr/bin/java'), 'java');
  assert.equal(goBase('java'), 'java');
  assert.equal(goBase('/usr/bin/'), 'bin');
  assert.equal(goBase('/'), '/');
  assert.equal(goBase(''), '.');
  assert.equal(goBase('nginx: worker process /usr/sbin/nginx'), 'nginx');
});

test('comm: exact kernel name, OR over the list', () => {
  const cfg = 'process_names:\n  - comm: [bash, zsh]\n    name: "{{.Comm}}"\n';
  assert.equal(nameOf(cfg, { pid: 10, comm: 'bash' }), 'bash');
  assert.equal(nameOf(cfg, { pid: 11, comm: 'zsh' }), 'zsh');
  assert.equal(nameOf(cfg, { pid: 12, comm: 'bas' }), undefined);
  assert.equal(nameOf(cfg, { pid: 13, comm: 'bash2' }), undefined);
});

test('exe: basename of argv[0], or argv[0] exactly for entries with a slash', () => {
  const cfg = 'process_names:\n  - exe: [postgres, /usr/local/bin/prometheus]\n';
  assert.equal(nameOf(cfg, { pid: 10, comm: 'postgres', cmdline: ['/usr/lib/postgresql/16/bin/postgres', '-D', '/var/lib/pg'] }), 'postgres');
  assert.equal(nameOf(cfg, { pid: 11, comm: 'postgres', cmdline: ['postgres'] }), 'postgres');
  assert.equal(nameOf(cfg, { pid: 12, comm: 'prometheus', cmdline: ['/usr/local/bin/prometheus', '--config.file=x'] }), 'prometheus');
  assert.equal(nameOf(cfg, { pid: 13, comm: 'prometheus', cmdline: ['/usr/bin/prometheus'] }), undefined, 'other path');
  assert.equal(nameOf(cfg, { pid: 14, comm: 'prometheus', cmdline: ['prometheus'] }), undefined, 'bare name vs full-path entry');
  assert.equal(nameOf(cfg, { ...KTHREAD, comm: 'postgres' }), undefined, 'no argv: exe never matches');
});

test('exe: a basename and a full path for the same program both apply (no overwrite as in Go map)', () => {
  const cfg = 'process_names:\n  - exe: [postgres, /opt/pg/bin/postgres]\n';
  assert.equal(nameOf(cfg, { pid: 10, comm: 'postgres', cmdline: ['/usr/bin/postgres'] }), 'postgres');
  assert.equal(nameOf(cfg, { pid: 11, comm: 'postgres', cmdline: ['/opt/pg/bin/postgres'] }), 'postgres');
});

test('cmdline: searched in argv joined by spaces, every regex must match, captures feed .Matches', () => {
  const cfg = [
    'process_names:',
    '  - name: "{{.ExeBase}}:{{.Matches.Cfgfile}}"',
    '    cmdline:',
    "      - '-config\\.path\\s+(?P<Cfgfile>\\S+)'",
    "      - 'debug'",
  ].join('\n');
  const argv = ['/usr/local/bin/process-exporter', '-config.path', '/etc/pe.yml', '-debug'];
  assert.equal(nameOf(cfg, { pid: 10, comm: 'process-exporte', cmdline: argv }), 'process-exporter:/etc/pe.yml');
  assert.equal(nameOf(cfg, { pid: 11, comm: 'process-exporte', cmdline: argv.slice(0, 3) }), undefined, 'second regex fails');
  const spanning = 'process_names:\n  - cmdline: ["^sleep 1000$"]\n    name: x\n';
  assert.equal(nameOf(spanning, { pid: 12, comm: 'sleep', cmdline: ['sleep', '1000'] }), 'x');
  const empty = 'process_names:\n  - cmdline: [".+"]\n    name: x\n';
  assert.equal(nameOf(empty, KTHREAD), undefined, "kernel threads have an empty command line: '.+' skips them");
});

test('captures of optional groups that did not participate are empty; later regexes overwrite names', () => {
  const cfg = [
    'process_names:',
    '  - name: "[{{.Matches.A}}][{{.Matches.B}}]"',
    "    cmdline: ['x(?P<A>a)?', '(?P<B>y+)']",
  ].join('\n');
  assert.equal(nameOf(cfg, { pid: 10, comm: 't', cmdline: ['x', 'yy'] }), '[][yy]');
});

test('pid and ppid: an integer or a list', () => {
  const cfg = 'process_names:\n  - pid: 1\n    name: init\n  - ppid: [1, 2]\n    name: "child-of-{{.PPID}}"\n';
  assert.equal(nameOf(cfg, { pid: 1, ppid: 0, comm: 'systemd' }), 'init');
  assert.equal(nameOf(cfg, { pid: 5, ppid: 2, comm: 'kworker' }), 'child-of-2');
  assert.equal(nameOf(cfg, { pid: 6, ppid: 1, comm: 'sshd' }), 'child-of-1');
  assert.equal(nameOf(cfg, { pid: 7, ppid: 6, comm: 'sshd' }), undefined);
});

test('matchers inside a rule are AND-ed; rules are tried in order, first match wins', () => {
  const cfg = [
    'process_names:',
    '  - name: top-bash',
    '    comm: [bash]',
    '    ppid: 1',
    '  - name: any-bash',
    '    comm: [bash]',
    '  - name: catch-all',
    '    cmdline: [""]',
  ].join('\n');
  assert.equal(nameOf(cfg, { pid: 10, ppid: 1, comm: 'bash' }), 'top-bash');
  assert.equal(nameOf(cfg, { pid: 11, ppid: 10, comm: 'bash' }), 'any-bash');
  assert.equal(nameOf(cfg, { pid: 12, ppid: 1, comm: 'vim' }), 'catch-all');
});

test('cgroup: regexes searched in the cgroup v2 path, captures feed .Matches', () => {
  const cfg = [
    'process_names:',
    '  - name: "unit:{{.Matches.Unit}}"',
    "    cgroup: ['^/system\\.slice/(?P<Unit>[^/]+)\\.service']",
  ].join('\n');
  assert.equal(nameOf(cfg, { pid: 10, comm: 'crio', cgroupPath: '/system.slice/crio.service' }), 'unit:crio');
  assert.equal(nameOf(cfg, { pid: 11, comm: 'bash', cgroupPath: '/user.slice/user-1000.slice/session-3.scope' }), undefined);
  assert.equal(nameOf(cfg, { pid: 12, comm: 'old', cgroupPath: undefined }), undefined, 'cgroup v1-only host: no v2 path');
});

test('container: {} matches only processes in a pod; namespace/pod/name regexes are anchored', () => {
  const any = 'process_names:\n  - container: {}\n    name: "{{.Namespace}}/{{.Pod}}/{{.Container}}"\n';
  const inPod: ProcessData = {
    pid: 10, ppid: 9, comm: 'coredns',
    container: { namespace: 'openshift-dns', pod: 'dns-default-x2', container: 'dns', containerId: 'abc', podUid: 'u1' },
  };
  assert.equal(nameOf(any, inPod), 'openshift-dns/dns-default-x2/dns');
  assert.equal(nameOf(any, { pid: 11, comm: 'sshd' }), undefined);
  assert.equal(nameOf(any, { pid: 12, comm: 'pause', container: { podUid: 'u2' } }), '//', 'pod-level process, names unknown');

  const ns = "process_names:\n  - container: {namespace: 'openshift-.*', name: dns}\n    name: x\n";
  assert.equal(nameOf(ns, inPod), 'x');
  assert.equal(nameOf(ns, { ...inPod, container: { ...inPod.container, namespace: 'my-openshift-dns' } }), undefined);
  assert.equal(nameOf(ns, { ...inPod, container: { ...inPod.container, container: 'dns-sidecar' } }), undefined);
  const podOnly = "process_names:\n  - container: {pod: 'etcd-.*'}\n    name: x\n";
  assert.equal(nameOf(podOnly, { pid: 13, comm: 'pause', container: { podUid: 'u3' } }), undefined, 'unknown pod name is ""');
});

test('template variables come from the process: ExeBase/ExeFull fall back to comm without argv', () => {
  const cfg = 'process_names:\n  - ppid: [0, 1, 2]\n    name: "{{.ExeBase}}|{{.ExeFull}}|{{.Username}}|{{.PID}}|{{.StartTime}}|{{.Cgroups}}|{{.Cgroup}}"\n';
  assert.equal(
    nameOf(cfg, { pid: 7, ppid: 1, comm: 'java', cmdline: ['/usr/bin/java', '-jar'], username: 'app', startTimeSeconds: 1_700_000_000, cgroupPath: '/system.slice/x.service' }),
    'java|/usr/bin/java|app|7|2023-11-14 22:13:20 +0000 UTC|[/system.slice/x.service]|/system.slice/x.service',
  );
  assert.equal(nameOf(cfg, { ...KTHREAD, cgroupPath: '/' }), 'kworker/0:1|kworker/0:1|root|57|2023-11-14 22:13:20 +0000 UTC|[/]|/');
  const ids = 'process_names:\n  - container: {}\n    name: "{{.PodUID}} {{.ContainerID}} {{if .Cgroup}}{{.Cgroup}}{{else}}-{{end}}"\n';
  assert.equal(nameOf(ids, { pid: 8, comm: 'x', container: { podUid: 'u9', containerId: 'c9' } }), 'u9 c9 -');
});

test('default name is {{.ExeBase}}, also for an empty name', () => {
  assert.equal(nameOf('process_names:\n  - comm: [java]\n', { pid: 3, comm: 'java', cmdline: ['/opt/jdk/bin/java'] }), 'java');
  assert.equal(nameOf('process_names:\n  - comm: [x]\n    name: ""\n', { pid: 3, comm: 'x', cmdline: ['/bin/y'] }), 'y');
});

test('labels: union of all rules sorted, "" for rules that lack one, values templated', () => {
  const cfg = [
    'process_names:',
    '  - container: {}',
    '    name: "{{.Pod}}"',
    '    labels:',
    '      pod: "{{.Pod}}"',
    '      class: \'{{if match .Namespace "openshift-.*"}}infra{{else}}workload{{end}}\'',
    '  - ppid: 1',
    '    name: "{{.Comm}}"',
    '    labels: {class: host, zone: a}',
  ].join('\n');
  const m = matcherOf(cfg);
  assert.deepEqual(m.labelNames, ['class', 'pod', 'zone']);
  assert.deepEqual(m.match(fakeProcess({ pid: 5, comm: 'c', container: { namespace: 'openshift-etcd', pod: 'etcd-0' } })), {
    name: 'etcd-0', labels: { class: 'infra', pod: 'etcd-0', zone: '' }, rule: 0, threads: undefined,
  });
  assert.deepEqual(m.match(fakeProcess({ pid: 6, comm: 'c', container: { namespace: 'shop', pod: 'web-1' } }))?.labels, {
    class: 'workload', pod: 'web-1', zone: '',
  });
  assert.deepEqual(m.match(fakeProcess({ pid: 7, ppid: 1, comm: 'sshd' })), { name: 'sshd', labels: { class: 'host', pod: '', zone: 'a' }, rule: 1, threads: undefined });
  assert.deepEqual(matcherOf('process_names:\n  - comm: [a]\n').labelNames, []);
});

test('label names must be valid Prometheus names and not used by the exporter', () => {
  assert.equal(labelNameProblem('class'), undefined);
  assert.match(labelNameProblem('1abc') ?? '', /not a valid Prometheus label name/);
  assert.match(labelNameProblem('a-b') ?? '', /not a valid Prometheus label name/);
  assert.match(labelNameProblem('__name') ?? '', /names starting with __/);
  for (const reserved of ['groupname', 'threadname', 'mode', 'memtype', 'state', 'cgroup', 'event', 'instance']) {
    assert.match(labelNameProblem(reserved) ?? '', /reserved/);
  }
});

test('laziness: cheap fields first, file-backed attributes only when a rule reaches them', () => {
  const cfg = [
    'process_names:',
    '  - pid: 1',
    '    name: "init"',
    '  - comm: [java]',
    "    cmdline: ['-jar']",
    '    name: "{{.Comm}}"',
    '  - ppid: 1',
    "    cgroup: ['system\\.slice']",
    '    name: "{{.Comm}}"',
  ].join('\n');
  const m = matcherOf(cfg);

  const init = fakeProcess({ pid: 1, ppid: 0, comm: 'systemd' });
  assert.equal(m.match(init)?.name, 'init');
  assert.equal(totalCalls(init), 0, 'pid rule + constant name read nothing');

  const bash = fakeProcess({ pid: 20, ppid: 19, comm: 'bash', cmdline: ['bash'] });
  assert.equal(m.match(bash), undefined);
  assert.equal(totalCalls(bash), 0, 'comm and ppid mismatch: no cmdline or cgroup read');

  const java = fakeProcess({ pid: 21, ppid: 19, comm: 'java', cmdline: ['java', '-jar', 'a.jar'] });
  assert.equal(m.match(java)?.name, 'java');
  assert.deepEqual(java.calls, { cmdline: 1, username: 0, cgroups: 0, cgroupPath: 0, container: 0 });

  const top = fakeProcess({ pid: 22, ppid: 1, comm: 'java', cmdline: ['java'], cgroupPath: '/system.slice/a.service' });
  assert.equal(m.match(top)?.name, 'java');
  assert.deepEqual(top.calls, { cmdline: 1, username: 0, cgroups: 0, cgroupPath: 1, container: 0 });
});

test('laziness: each attribute is read at most once per match, across rules and templates', () => {
  const cfg = [
    'process_names:',
    "  - cmdline: ['nomatch']",
    "  - exe: [other]",
    "  - cmdline: ['x']",
    '    container: {}',
    '    name: "{{.ExeBase}}-{{.ExeFull}}-{{.Pod}}-{{.Namespace}}"',
    '    labels: {c: "{{.Container}}", u: "{{.Username}}", u2: "{{.Username}}"}',
  ].join('\n');
  const p = fakeProcess({ pid: 30, comm: 'x', cmdline: ['/bin/x'], container: { pod: 'p', namespace: 'n', container: 'c' } });
  assert.deepEqual(matcherOf(cfg).match(p), { name: 'x-/bin/x-p-n', labels: { c: 'c', u: 'root', u2: 'root' }, rule: 2, threads: undefined });
  assert.deepEqual(p.calls, { cmdline: 1, username: 1, cgroups: 0, cgroupPath: 0, container: 1 });
});

test('laziness: a template branch not taken reads nothing', () => {
  const cfg = 'process_names:\n  - comm: [a]\n    name: "{{if eq .PPID 1}}{{.Comm}}{{else}}{{.Username}}@{{.ExeBase}}{{end}}"\n';
  const p = fakeProcess({ pid: 40, ppid: 1, comm: 'a' });
  assert.equal(matcherOf(cfg).match(p)?.name, 'a');
  assert.equal(totalCalls(p), 0);
});

test('needs: which attributes the rules and templates may read', () => {
  const needs = (yaml: string) => parseConfig(yaml, 't.yaml').needs;
  assert.deepEqual(needs('process_names:\n  - ppid: 1\n    name: "{{.Comm}}"\n'), { cmdline: false, username: false, cgroup: false, container: false });
  assert.deepEqual(needs('process_names:\n  - ppid: 1\n'), { cmdline: true, username: false, cgroup: false, container: false }, 'default {{.ExeBase}}');
  assert.deepEqual(needs("process_names:\n  - exe: [a]\n    name: '{{.Username}}'\n"), { cmdline: true, username: true, cgroup: false, container: false });
  assert.deepEqual(needs("process_names:\n  - cgroup: [a]\n    name: x\n"), { cmdline: false, username: false, cgroup: true, container: false });
  assert.deepEqual(needs("process_names:\n  - pid: 1\n    name: '{{.Cgroups}}'\n"), { cmdline: false, username: false, cgroup: true, container: false });
  assert.deepEqual(needs("process_names:\n  - pid: 1\n    name: x\n    labels: {ns: '{{.Namespace}}'}\n"), { cmdline: false, username: false, cgroup: false, container: true });
  assert.deepEqual(needs("process_names:\n  - container: {}\n    name: x\n"), { cmdline: false, username: false, cgroup: false, container: true });
});
