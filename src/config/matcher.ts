/**
 * Compiled `process_names` rules: the ProcessMatcher the tracker calls once per new process.
 *
 * Semantics follow process-exporter (config/config.go): rules are tried in order and the first
 * match wins; inside a rule every given matcher must match; `comm` and `exe` lists are OR-ed,
 * `cmdline` regexes are AND-ed and searched (unanchored) in argv joined by spaces; `exe` compares
 * basename(argv[0]) or, for entries containing '/', argv[0] exactly. Extensions: pid, ppid, cgroup
 * (regexes searched in the cgroup v2 path), container (anchored regexes on namespace/pod/name),
 * labels (templated). Checks run cheapest first and read each attribute at most once per call.
 */
import type { ContainerIdentity } from '../cgroup/types.js';
import type { GroupAssignment, ProcessAttributes, ProcessMatcher } from './attributes.js';
import { capLabel } from './label-cap.js';
import { compileGoRegex, GoRegexError, type GoRegex } from './re2.js';
import {
  compileTemplate, StartTime, TemplateError,
  type CompiledTemplate, type TemplateScope, type TemplateValue, type TemplateVar,
} from './template.js';

export const DEFAULT_NAME_TEMPLATE = '{{.ExeBase}}';

/** Label names the exporter's own metrics use; a rule's `labels:` may not reuse them. */
export const RESERVED_LABEL_NAMES: readonly string[] = [
  'groupname', 'threadname', 'mode', 'cpumode', 'memtype', 'ctxswitchtype', 'state', 'iomode',
  'resource', 'kind', 'window', 'cgroup', 'event', 'job', 'instance', 'le', 'quantile',
];

/** Kernel comm is at most 15 bytes (TASK_COMM_LEN - 1); longer names can never match. */
const COMM_MAX_BYTES = 15;

/** Which per-process attributes matching and naming may read, so the tracker prefetches nothing else. */
export interface AttributeNeeds {
  cmdline: boolean;
  username: boolean;
  cgroup: boolean;
  container: boolean;
}

export type FieldPath = readonly (string | number)[];

/**
 * Receives one problem. `key: true` locates it at the mapping key rather than the value;
 * `offset` is a character offset inside a string value (regex, template).
 */
export type ProblemSink = (path: FieldPath, message: string, where?: { key?: boolean; offset?: number }) => void;

interface ContainerPatterns {
  namespace?: GoRegex;
  pod?: GoRegex;
  name?: GoRegex;
}

interface CompiledRule {
  /** index in process_names */
  index: number;
  pids?: ReadonlySet<number>;
  ppids?: ReadonlySet<number>;
  comms?: ReadonlySet<string>;
  exeBases?: ReadonlySet<string>;
  exeFulls?: ReadonlySet<string>;
  cmdline?: readonly GoRegex[];
  cgroup?: readonly GoRegex[];
  container?: ContainerPatterns;
  name: CompiledTemplate;
  labels: readonly (readonly [string, CompiledTemplate])[];
  threads: boolean | undefined;
  /** the rule as written (regexes and templates in their source form), for explain */
  source: Readonly<Record<string, unknown>>;
}

/** The matcher a rule failed on first (checks run in this order). */
export type MismatchField = 'pid' | 'ppid' | 'comm' | 'exe' | 'cmdline' | 'cgroup' | 'container';

/** One rule's outcome for one process, with the first reason it failed. */
export interface RuleVerdict {
  rule: number;
  /** the rule as written, e.g. `name: "{{.Comm}}", ppid: 1` */
  summary: string;
  /** undefined when the rule matched */
  failed: { field: MismatchField; why: string } | undefined;
}

const MATCHER_KEYS = ['comm', 'exe', 'cmdline', 'pid', 'ppid', 'cgroup', 'container'] as const;

/** Go's filepath.Base: last element, trailing slashes removed; "" -> ".", all slashes -> "/". */
export function goBase(path: string): string {
  if (path === '') return '.';
  const stripped = path.replace(/\/+$/, '');
  if (stripped === '') return '/';
  return stripped.slice(stripped.lastIndexOf('/') + 1);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function stringList(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.every((s) => typeof s === 'string') ? v : undefined;
}

function intSet(v: unknown): Set<number> | undefined {
  if (typeof v === 'number') return new Set([v]);
  return Array.isArray(v) && v.every((n) => typeof n === 'number') ? new Set(v as number[]) : undefined;
}

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Why a label name cannot be used, or undefined when it can. */
export function labelNameProblem(name: string): string | undefined {
  if (!LABEL_NAME.test(name)) return `label name "${name}" is not a valid Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)`;
  if (name.startsWith('__')) return `label name "${name}" is reserved: names starting with __ belong to Prometheus`;
  if (RESERVED_LABEL_NAMES.includes(name)) return `label name "${name}" is reserved: the exporter's metrics already use it`;
  return undefined;
}

/** Memoizes each attribute read for the duration of one match() call. */
class ProcessFacts implements TemplateScope {
  private argvMemo: readonly string[] | undefined;
  private joinedMemo: string | undefined;
  private cgroupPathMemo: { v: string | undefined } | undefined;
  private containerMemo: { v: ContainerIdentity | undefined } | undefined;
  private usernameMemo: string | undefined;
  private cgroupsMemo: readonly string[] | undefined;
  captures: Record<string, string> = {};

  constructor(readonly p: ProcessAttributes) {}

  argv(): readonly string[] {
    return (this.argvMemo ??= this.p.cmdline());
  }

  joinedCmdline(): string {
    return (this.joinedMemo ??= this.argv().join(' '));
  }

  cgroupPath(): string | undefined {
    return (this.cgroupPathMemo ??= { v: this.p.cgroupPath() }).v;
  }

  container(): ContainerIdentity | undefined {
    return (this.containerMemo ??= { v: this.p.container() }).v;
  }

  value(name: TemplateVar): TemplateValue {
    switch (name) {
      case 'Comm': return this.p.comm;
      case 'PID': return this.p.pid;
      case 'PPID': return this.p.ppid;
      case 'StartTime': return new StartTime(this.p.startTimeSeconds);
      // Kernel threads and zombies have no argv: process-exporter falls back to comm.
      case 'ExeFull': return this.argv()[0] ?? this.p.comm;
      case 'ExeBase': {
        const argv0 = this.argv()[0];
        return argv0 === undefined ? this.p.comm : goBase(argv0);
      }
      case 'Username': return (this.usernameMemo ??= this.p.username());
      case 'Cgroups': return (this.cgroupsMemo ??= this.p.cgroups());
      case 'Cgroup': return this.cgroupPath() ?? '';
      case 'ContainerID': return this.container()?.containerId ?? '';
      case 'Container': return this.container()?.container ?? '';
      case 'Pod': return this.container()?.pod ?? '';
      case 'Namespace': return this.container()?.namespace ?? '';
      case 'PodUID': return this.container()?.podUid ?? '';
    }
  }

  capture(name: string): string {
    return this.captures[name] ?? '';
  }
}

function searchAll(regexes: readonly GoRegex[], text: string, captures: Record<string, string>): boolean {
  for (const re of regexes) {
    if (re.groupNames.length === 0) {
      if (!re.test(text)) return false;
      continue;
    }
    const m = re.exec(text);
    if (!m) return false;
    Object.assign(captures, m.named);
  }
  return true;
}

/** The first matcher of the rule the process fails, or undefined when the rule matches. */
function mismatch(r: CompiledRule, f: ProcessFacts): MismatchField | undefined {
  const p = f.p;
  // an exit record knows only pid, ppid, comm and uid: rules needing more cannot match it
  if (p.partial && (r.exeBases || r.exeFulls || r.cmdline || r.cgroup || r.container)) {
    return r.exeBases || r.exeFulls ? 'exe' : r.cmdline ? 'cmdline' : r.cgroup ? 'cgroup' : 'container';
  }
  if (r.pids && !r.pids.has(p.pid)) return 'pid';
  if (r.ppids && !r.ppids.has(p.ppid)) return 'ppid';
  if (r.comms && !r.comms.has(p.comm)) return 'comm';
  if (r.exeBases || r.exeFulls) {
    const argv0 = f.argv()[0];
    if (argv0 === undefined) return 'exe';
    if (!r.exeFulls?.has(argv0) && !r.exeBases?.has(goBase(argv0))) return 'exe';
  }
  f.captures = {};
  if (r.cmdline && !searchAll(r.cmdline, f.joinedCmdline(), f.captures)) return 'cmdline';
  if (r.cgroup) {
    const path = f.cgroupPath();
    if (path === undefined || !searchAll(r.cgroup, path, f.captures)) return 'cgroup';
  }
  if (r.container) {
    const c = f.container();
    if (!c) return 'container';
    const { namespace, pod, name } = r.container;
    if (namespace && !namespace.test(c.namespace ?? '')) return 'container';
    if (pod && !pod.test(c.pod ?? '')) return 'container';
    if (name && !name.test(c.container ?? '')) return 'container';
  }
  return undefined;
}

const show = (v: unknown): string => JSON.stringify(v);

/** Why `field` of rule `r` failed for this process, in words, quoting what the process has. */
function mismatchReason(r: CompiledRule, field: MismatchField, f: ProcessFacts): string {
  const src = r.source;
  if (f.p.partial && field !== 'pid' && field !== 'ppid' && field !== 'comm') return `only pid, ppid and comm are known (exit record): ${field} cannot be checked`;
  switch (field) {
    case 'pid': return `pid ${f.p.pid} is not ${show(src.pid)}`;
    case 'ppid': return `ppid ${f.p.ppid} is not ${show(src.ppid)}`;
    case 'comm': return `comm ${show(f.p.comm)} is not one of ${show(src.comm)}`;
    case 'exe': {
      const argv0 = f.argv()[0];
      return argv0 === undefined ? 'no argv (kernel thread or zombie)' : `argv[0] ${show(argv0)} is not one of ${show(src.exe)}`;
    }
    case 'cmdline': {
      const failed = (src.cmdline as string[]).find((_, i) => !r.cmdline?.[i]?.test(f.joinedCmdline()));
      return `regex ${show(failed)} does not match the command line ${show(f.joinedCmdline())}`;
    }
    case 'cgroup': {
      const path = f.cgroupPath();
      if (path === undefined) return 'no cgroup v2 path';
      const failed = (src.cgroup as string[]).find((_, i) => !r.cgroup?.[i]?.test(path));
      return `regex ${show(failed)} does not match the cgroup ${show(path)}`;
    }
    case 'container': {
      const c = f.container();
      if (!c) return 'not in a Kubernetes container';
      return `container ${show({ namespace: c.namespace, pod: c.pod, name: c.container })} does not match ${show(src.container)}`;
    }
  }
}

/** A rule as one line: its keys as written. */
function ruleSummary(source: Readonly<Record<string, unknown>>): string {
  return Object.entries(source).map(([k, v]) => `${k}: ${show(v)}`).join(', ');
}

export class RuleMatcher implements ProcessMatcher {
  readonly labelNames: readonly string[];
  readonly needs: Readonly<AttributeNeeds>;
  /** some rule says `threads: true` */
  readonly threadsRequested: boolean;
  private readonly emptyLabels: Readonly<Record<string, string>>;

  constructor(private readonly rules: readonly CompiledRule[]) {
    this.labelNames = [...new Set(rules.flatMap((r) => r.labels.map(([k]) => k)))].sort();
    this.emptyLabels = Object.fromEntries(this.labelNames.map((k) => [k, '']));
    this.needs = needsOf(rules);
    this.threadsRequested = rules.some((r) => r.threads === true);
  }

  match(p: ProcessAttributes): GroupAssignment | undefined {
    const facts = new ProcessFacts(p);
    for (const r of this.rules) {
      if (mismatch(r, facts) === undefined) return this.assign(r, facts);
    }
    return undefined;
  }

  explain(p: ProcessAttributes): { verdicts: RuleVerdict[]; assignment: GroupAssignment | undefined } {
    const facts = new ProcessFacts(p);
    const verdicts: RuleVerdict[] = [];
    for (const r of this.rules) {
      const field = mismatch(r, facts);
      const summary = ruleSummary(r.source);
      if (field === undefined) {
        verdicts.push({ rule: r.index, summary, failed: undefined });
        return { verdicts, assignment: this.assign(r, facts) };
      }
      verdicts.push({ rule: r.index, summary, failed: { field, why: mismatchReason(r, field, facts) } });
    }
    return { verdicts, assignment: undefined };
  }

  /** rule `index` of process_names as written, one line */
  describeRule(index: number): string | undefined {
    const r = this.rules.find((x) => x.index === index);
    return r && ruleSummary(r.source);
  }

  /** The group of a process that matched `r` (captures of the last mismatch() call in scope). */
  private assign(r: CompiledRule, facts: ProcessFacts): GroupAssignment {
    const labels: Record<string, string> = { ...this.emptyLabels };
    for (const [k, t] of r.labels) labels[k] = capLabel(t.render(facts));
    return { name: capLabel(r.name.render(facts)), labels, rule: r.index, threads: r.threads };
  }
}

function needsOf(rules: readonly CompiledRule[]): AttributeNeeds {
  const needs: AttributeNeeds = { cmdline: false, username: false, cgroup: false, container: false };
  for (const r of rules) {
    if (r.exeBases || r.exeFulls || r.cmdline) needs.cmdline = true;
    if (r.cgroup) needs.cgroup = true;
    if (r.container) needs.container = true;
    for (const t of [r.name, ...r.labels.map(([, lt]) => lt)]) {
      for (const v of t.vars) {
        if (v === 'ExeBase' || v === 'ExeFull') needs.cmdline = true;
        else if (v === 'Username') needs.username = true;
        else if (v === 'Cgroups' || v === 'Cgroup') needs.cgroup = true;
        else if (v === 'ContainerID' || v === 'Container' || v === 'Pod' || v === 'Namespace' || v === 'PodUID') needs.container = true;
      }
    }
  }
  return needs;
}

function compileRegexes(list: readonly string[], path: FieldPath, report: ProblemSink, names: Set<string>): GoRegex[] {
  const out: GoRegex[] = [];
  list.forEach((src, i) => {
    try {
      const re = compileGoRegex(src);
      re.groupNames.forEach((n) => names.add(n));
      out.push(re);
    } catch (err) {
      if (!(err instanceof GoRegexError)) throw err;
      report([...path, i], `bad regex ${JSON.stringify(src)}: ${err.message}`, { offset: err.offset });
    }
  });
  return out;
}

function compileTemplateAt(
  src: string, path: FieldPath, report: ProblemSink, captureNames: ReadonlySet<string>,
): CompiledTemplate | undefined {
  try {
    return compileTemplate(src, { captureNames });
  } catch (err) {
    if (!(err instanceof TemplateError)) throw err;
    report(path, `bad template ${JSON.stringify(src)}: ${err.message}`, { offset: err.offset });
    return undefined;
  }
}

/**
 * Compile one rule (already shape-checked by the schema; fields with a wrong shape are skipped,
 * their problem was reported there). Returns undefined when anything in it is invalid.
 */
function compileRule(raw: unknown, index: number, path: FieldPath, report: ProblemSink): CompiledRule | undefined {
  if (!isRecord(raw)) return undefined;
  let ok = true;
  const fail: ProblemSink = (...args) => {
    ok = false;
    report(...args);
  };

  if (!MATCHER_KEYS.some((k) => raw[k] !== undefined)) {
    fail(path, `rule has no matcher: give at least one of ${MATCHER_KEYS.join(', ')}`);
  }
  const rule: Partial<CompiledRule> = {};
  const captureNames = new Set<string>();

  const pids = intSet(raw.pid);
  if (pids) rule.pids = pids;
  const ppids = intSet(raw.ppid);
  if (ppids) rule.ppids = ppids;

  const comms = stringList(raw.comm);
  if (comms) {
    comms.forEach((c, i) => {
      if (Buffer.byteLength(c) > COMM_MAX_BYTES) {
        fail([...path, 'comm', i], `comm "${c}" is longer than ${COMM_MAX_BYTES} bytes and can never match: ` +
          `the kernel truncates comm to "${Buffer.from(c).subarray(0, COMM_MAX_BYTES).toString()}"; use that, or exe/cmdline`);
      }
    });
    rule.comms = new Set(comms);
  }

  const exes = stringList(raw.exe);
  if (exes) {
    rule.exeBases = new Set(exes.filter((e) => !e.includes('/')));
    rule.exeFulls = new Set(exes.filter((e) => e.includes('/')));
  }

  const cmdline = stringList(raw.cmdline);
  if (cmdline) rule.cmdline = compileRegexes(cmdline, [...path, 'cmdline'], fail, captureNames);
  const cgroup = stringList(raw.cgroup);
  if (cgroup) rule.cgroup = compileRegexes(cgroup, [...path, 'cgroup'], fail, captureNames);

  if (isRecord(raw.container)) {
    const patterns: ContainerPatterns = {};
    for (const key of ['namespace', 'pod', 'name'] as const) {
      const src = raw.container[key];
      if (typeof src !== 'string') continue;
      try {
        patterns[key] = compileGoRegex(src, { anchored: true });
      } catch (err) {
        if (!(err instanceof GoRegexError)) throw err;
        fail([...path, 'container', key], `bad regex ${JSON.stringify(src)}: ${err.message}`, { offset: err.offset });
      }
    }
    rule.container = patterns;
  }

  const nameSrc = typeof raw.name === 'string' && raw.name !== '' ? raw.name : DEFAULT_NAME_TEMPLATE;
  const name = compileTemplateAt(nameSrc, [...path, 'name'], fail, captureNames);

  const labels: [string, CompiledTemplate][] = [];
  if (isRecord(raw.labels)) {
    for (const [key, value] of Object.entries(raw.labels)) {
      const problem = labelNameProblem(key);
      if (problem) fail([...path, 'labels', key], problem, { key: true });
      if (typeof value !== 'string') continue;
      const t = compileTemplateAt(value, [...path, 'labels', key], fail, captureNames);
      if (t) labels.push([key, t]);
    }
  }

  if (!ok || !name) return undefined;
  const threads = typeof raw.threads === 'boolean' ? raw.threads : undefined;
  return { ...rule, index, name, labels, threads, source: raw };
}

/**
 * Compile the `process_names` list. Reports every problem through `report`; returns the matcher
 * only when there were none.
 */
export function compileRules(rawRules: unknown, path: FieldPath, report: ProblemSink): RuleMatcher | undefined {
  if (!Array.isArray(rawRules)) return undefined;
  const compiled: CompiledRule[] = [];
  let ok = true;
  rawRules.forEach((raw, i) => {
    const rule = compileRule(raw, i, [...path, i], report);
    if (rule) compiled.push(rule);
    else ok = false;
  });
  return ok ? new RuleMatcher(compiled) : undefined;
}
