import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  compileTemplate, StartTime, TemplateError,
  type TemplateScope, type TemplateValue, type TemplateVar,
} from '../../../src/config/template.js';

const VALUES: Record<TemplateVar, TemplateValue> = {
  Comm: 'java', ExeBase: 'java', ExeFull: '/usr/bin/java', Username: 'app', PID: 4242, PPID: 1,
  StartTime: new StartTime(1_700_000_000.25), Cgroups: ['/system.slice/app.service', '/'],
  Cgroup: '/system.slice/app.service', ContainerID: '', Container: '', Pod: '', Namespace: 'openshift-dns',
  PodUID: '',
};

/** A scope over fixed values that records which variables were read. */
function scope(overrides: Partial<Record<TemplateVar, TemplateValue>> = {}, captures: Record<string, string> = {}) {
  const read: string[] = [];
  const s: TemplateScope = {
    value: (name) => {
      read.push(name);
      return name in overrides ? (overrides[name] as TemplateValue) : VALUES[name];
    },
    capture: (name) => {
      read.push(`Matches.${name}`);
      return captures[name] ?? '';
    },
  };
  return { s, read };
}

function render(src: string, overrides: Partial<Record<TemplateVar, TemplateValue>> = {}, captures: Record<string, string> = {}): string {
  return compileTemplate(src, { captureNames: new Set(Object.keys(captures)) }).render(scope(overrides, captures).s);
}

function rejects(src: string, message: RegExp, offset?: number, captureNames: string[] = []): void {
  assert.throws(() => compileTemplate(src, { captureNames: new Set(captureNames) }), (err: unknown) => {
    assert.ok(err instanceof TemplateError, `expected TemplateError for ${src}, got ${String(err)}`);
    assert.match(err.message, message);
    if (offset !== undefined) assert.equal(err.offset, offset, `offset for ${src}`);
    return true;
  });
}

test('variables print like Go: strings, ints, []string, time.Time', () => {
  assert.equal(render('{{.Comm}}:{{.ExeBase}}:{{.ExeFull}}:{{.Username}}'), 'java:java:/usr/bin/java:app');
  assert.equal(render('{{.PID}}/{{.PPID}}'), '4242/1');
  assert.equal(render('{{.Cgroups}}'), '[/system.slice/app.service /]');
  assert.equal(render('{{.Cgroups}}', { Cgroups: [] }), '[]');
  assert.equal(render('{{.StartTime}}'), '2023-11-14 22:13:20.25 +0000 UTC');
  assert.equal(render('{{.Namespace}}/{{.Pod}}'), 'openshift-dns/');
});

test('StartTime formats like Go time.Time.String() in UTC, trailing zeros trimmed', () => {
  assert.equal(new StartTime(0).toString(), '1970-01-01 00:00:00 +0000 UTC');
  assert.equal(new StartTime(1_700_000_000.5).toString(), '2023-11-14 22:13:20.5 +0000 UTC');
  assert.equal(new StartTime(1_700_000_000.07).toString(), '2023-11-14 22:13:20.07 +0000 UTC');
  assert.equal(new StartTime(1_709_251_199.99).toString(), '2024-02-29 23:59:59.99 +0000 UTC');
});

test('.Matches.NAME prints the capture; unknown capture names are a compile error', () => {
  assert.equal(render('{{.ExeBase}}:{{.Matches.Port}}', {}, { Port: '8080' }), 'java:8080');
  rejects('{{.Matches.Port}}', /no regex of this rule has a capture group named 'Port'/, 2);
  rejects('{{.Matches.Prot}}', /\(defined: Port\)/, 2, ['Port']);
  rejects('{{.Matches}}', /use \.Matches\.NAME/, 2);
});

test('text, literals, trim markers and comments', () => {
  assert.equal(render('plain text'), 'plain text');
  assert.equal(render(''), '');
  assert.equal(render('a {{- .Comm -}} b'), 'ajavab');
  assert.equal(render('a {{.Comm -}}\n  b'), 'a javab');
  assert.equal(render('{{"{{"}}x{{`}}`}}'), '{{x}}');
  assert.equal(render('{{"a\\tb\\"c\\\\"}}'), 'a\tb"c\\');
  assert.equal(render('x{{/* a comment with }} inside */}}y'), 'xy');
  assert.equal(render('x {{- /* trimmed */ -}} y'), 'xy');
  assert.equal(render('{{ .Comm }}'), 'java');
});

test('if / else if / else with Go truthiness', () => {
  const t = '{{if .Pod}}pod{{else if eq .PPID 1}}top{{else}}other{{end}}';
  assert.equal(render(t), 'top');
  assert.equal(render(t, { Pod: 'p-1' }), 'pod');
  assert.equal(render(t, { PPID: 7 }), 'other');
  assert.equal(render('{{if .PID}}y{{end}}', { PID: 0 }), '');
  assert.equal(render('{{if .Cgroups}}y{{else}}n{{end}}', { Cgroups: [] }), 'n');
  assert.equal(render('{{if .StartTime}}y{{end}}'), 'y');
  assert.equal(render('{{if .Pod}}{{else}}none{{end}}'), 'none');
  assert.equal(render('{{if .Comm}}{{if .Pod}}a{{else}}b{{end}}{{end}}'), 'b');
});

test('functions: not, and, or (return an argument), eq (any of), ne, match (anchored)', () => {
  assert.equal(render('{{not .Pod}}'), 'true');
  assert.equal(render('{{or .Pod "host"}}'), 'host');
  assert.equal(render('{{or .Comm "host"}}'), 'java');
  assert.equal(render('{{and .Comm .Pod}}'), '');
  assert.equal(render('{{and .Comm .PID}}'), '4242');
  assert.equal(render('{{eq .Comm "bash" "java"}}'), 'true');
  assert.equal(render('{{eq .PID 1 2 3}}'), 'false');
  assert.equal(render('{{ne .Comm "bash"}}'), 'true');
  const cls = '{{if match .Namespace "openshift-.*|kube-system"}}infra{{else}}workload{{end}}';
  assert.equal(render(cls), 'infra');
  assert.equal(render(cls, { Namespace: 'kube-system' }), 'infra');
  assert.equal(render(cls, { Namespace: 'my-openshift-app' }), 'workload', 'match is anchored');
  assert.equal(render(cls, { Namespace: '' }), 'workload');
  assert.equal(render('{{if and (eq .PPID 1) (not (match .Comm `(?i)JAVA`))}}a{{else}}b{{end}}'), 'b');
  assert.equal(render('{{if or (eq .Comm "x") (match .Cgroup "/system\\\\.slice/.*")}}svc{{end}}'), 'svc');
});

test('evaluation is lazy: only the taken branch and needed and/or arguments are read', () => {
  const t = compileTemplate('{{if eq .PPID 1}}{{.Comm}}{{else}}{{.Username}}{{end}}', { captureNames: new Set() });
  assert.deepEqual([...t.vars].sort(), ['Comm', 'PPID', 'Username']);
  const { s, read } = scope();
  assert.equal(t.render(s), 'java');
  assert.deepEqual(read, ['PPID', 'Comm']);

  const or = compileTemplate('{{or .Comm .Username}}', { captureNames: new Set() });
  const r2 = scope();
  or.render(r2.s);
  assert.deepEqual(r2.read, ['Comm']);

  const constant = compileTemplate('fixed', { captureNames: new Set() });
  const r3 = scope();
  assert.equal(constant.render(r3.s), 'fixed');
  assert.deepEqual(r3.read, []);
  assert.equal(constant.vars.size, 0);
});

test('vars and captures list everything a template may read', () => {
  const t = compileTemplate('{{.Comm}}{{if .Pod}}{{.Matches.A}}{{else}}{{or .Namespace .Matches.B}}{{end}}', { captureNames: new Set(['A', 'B']) });
  assert.deepEqual([...t.vars].sort(), ['Comm', 'Namespace', 'Pod']);
  assert.deepEqual([...t.captures].sort(), ['A', 'B']);
});

test('unsupported or malformed syntax is rejected with the offset of the problem', () => {
  rejects('x{{.Foo}}', /unknown variable \.Foo/, 3);
  rejects('{{.}}', /whole data/, 2);
  rejects('{{.Comm | printf "%s"}}', /pipelines/, 8);
  rejects('{{$x := .Comm}}', /variables \(\$x\)/, 2);
  rejects('{{range .Cgroups}}x{{end}}', /'range' is not supported/, 2);
  rejects('{{with .Pod}}x{{end}}', /'with' is not supported/, 2);
  rejects('{{printf "%s" .Comm}}', /'printf' is not supported/, 2);
  rejects('{{upper .Comm}}', /unknown function 'upper'/, 2);
  rejects('{{.StartTime.Unix}}', /fields or methods of \.StartTime/, 2);
  rejects('{{.Comm', /unclosed action/, 0);
  rejects('ab{{if .Comm}}x', /unclosed \{\{if\}\}/, 2);
  rejects('{{end}}', /\{\{end\}\} without \{\{if\}\}/, 0);
  rejects('{{if .Comm}}a{{else}}b{{else}}c{{end}}', /\{\{else\}\} after \{\{else\}\}/, 22);
  rejects('{{if}}x{{end}}', /missing condition/, 0);
  rejects('{{}}', /empty action/, 0);
  rejects('{{.Comm .PID}}', /extra words/, 0);
  rejects('{{eq .PID "1"}}', /all be strings or all be integers/, 2);
  rejects('{{eq .Comm}}', /eq takes at least 2 arguments, got 1/, 2);
  rejects('{{ne .Comm "a" "b"}}', /ne takes 2 arguments, got 3/, 2);
  rejects('{{not}}', /not takes 1 argument, got 0/, 2);
  rejects('{{match .PID "1"}}', /first argument must be a string/, 2);
  rejects('{{match .Comm .Pod}}', /second argument must be a quoted regex literal/, 2);
  rejects('{{match .Comm "x(?=y)"}}', /match: invalid or unsupported Perl syntax/, 2);
  rejects('{{eq (eq .Comm "a") .Pod}}', /all be strings or all be integers/, 2);
  rejects('{{if eq .Comm "a" not .Pod}}x{{end}}', /used as an argument/, 18);
  rejects('{{"abc}}', /unclosed action|unterminated string/);
  rejects('{{"a\\qb"}}', /unsupported escape \\q/);
  rejects('{{-1}}', /unexpected '-'/, 2);
  rejects('{{1.5}}', /decimal integers only/, 2);
  rejects('{{/* open }}', /unclosed comment/, 0);
  rejects('{{true}}', /boolean constants/, 2);
});
