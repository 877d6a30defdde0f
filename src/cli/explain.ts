import type { ContainerIdentity } from '../cgroup/types.js';
import { ConfigError, formatProblem } from '../errors.js';
import type { GroupAssignment } from '../config/attributes.js';
import { loadConfigFile } from '../config/load.js';
import type { RuleMatcher, RuleVerdict } from '../config/matcher.js';
import { Host } from '../host/host.js';
import type { LazyProcessAttributes } from '../host/process-attributes.js';
import { defaultConfigPath } from '../package-info.js';
import { KUBELET_CGROUP_ROOT_FLAG, kubeletCgroupRootFlag } from './exporter-flags.js';
import { boolFlag, flagUsage, parseFlags, stringFlag } from './flags.js';

const FLAGS = {
  'config.path': stringFlag('', 'YAML config to explain against (default: the embedded config/default.yaml); works before deploying it'),
  procfs: stringFlag('/proc', 'path to read proc data from'),
  'path.rootfs': stringFlag('/', 'host root filesystem mount: where container runtime files (names of pods and containers) are read'),
  'kubelet.cgroup-root': KUBELET_CGROUP_ROOT_FLAG,
  children: boolFlag(true, 'an unmatched process joins its nearest matched ancestor\'s group, as serve -children does'),
};

const USAGE = `usage: procgroup-exporter explain [flags] PID...
Which rule put each process in its group and why (or which ancestor's group it inherited, through
which parents), the group name and labels after templating, its container, and for every rule tried
the first reason it did not match.

example:
  procgroup-exporter explain -config.path my-config.yaml $(pgrep -x sshd)

flags:
${flagUsage(FLAGS)}`;

interface Examined {
  pid: number;
  attrs: LazyProcessAttributes;
  verdicts: RuleVerdict[];
  assignment: GroupAssignment | undefined;
}

const show = (v: unknown): string => JSON.stringify(v);

function containerText(c: ContainerIdentity | undefined): string {
  if (!c) return 'none (not in a Kubernetes pod)';
  const names = c.pod ? `namespace ${show(c.namespace ?? '')}, pod ${show(c.pod)}, container ${show(c.container ?? '')}` : 'names unknown';
  return `${names} (pod uid ${c.podUid}, container id ${c.containerId ?? '-'}, runtime ${c.runtime}, qos ${c.qos})`;
}

function groupText(a: GroupAssignment): string {
  const labels = Object.entries(a.labels).map(([k, v]) => `${k}=${show(v)}`).join(', ');
  return `${show(a.name)}${labels ? ` {${labels}}` : ''}`;
}

function verdictLines(verdicts: readonly RuleVerdict[]): string[] {
  return verdicts.map((v) => `    rule ${v.rule} {${v.summary}}: ${v.failed ? `no: ${v.failed.why}` : 'MATCHES'}`);
}

/** The report for one pid; undefined when there is no such process. */
export function explainPid(host: Host, matcher: RuleMatcher, pid: number, children: boolean): string | undefined {
  const examine = (p: number): Examined | undefined => {
    const stat = host.readStat(host.statPath(p));
    if (!stat) return undefined;
    const attrs = host.attributes(stat);
    return { pid: p, attrs, ...matcher.explain(attrs) };
  };
  const self = examine(pid);
  if (!self) return undefined;
  const a = self.attrs;
  const out = [
    `pid ${pid} (${a.comm}), ppid ${a.ppid}, user ${a.username() || '?'}, started ${new Date(a.startTimeSeconds * 1000).toISOString()}`,
    `  cmdline:   ${show(a.cmdline().join(' '))}`,
    `  cgroup:    ${a.cgroupPath() ?? '(no cgroup v2 path)'}`,
    `  container: ${containerText(a.container())}`,
  ];
  if (self.assignment) {
    out.push(`  group:     ${groupText(self.assignment)}, matched by rule ${self.assignment.rule}`);
  } else {
    // the tracker's -children: the nearest ancestor that a rule matches gives its group
    const chain: Examined[] = [];
    let found: Examined | undefined;
    for (let p = a.ppid, depth = 0; children && p > 0 && depth < 256; depth++) {
      const anc = examine(p);
      if (!anc) break;
      chain.push(anc);
      if (anc.assignment) {
        found = anc;
        break;
      }
      p = anc.attrs.ppid;
    }
    const path = [self, ...chain].map((e) => `${e.pid} (${e.attrs.comm})`).join(' -> ');
    if (found?.assignment) {
      out.push(`  group:     ${groupText(found.assignment)}, inherited: no rule matches pid ${pid}; its ancestor ${found.pid} (${found.attrs.comm}) matched rule ${found.assignment.rule}`);
      out.push(`  chain:     ${path}`);
    } else {
      out.push(`  group:     none: no rule matches it${children ? ' and no ancestor is matched' : ' (-children=false: ancestors not considered)'}, so it is not tracked`);
      if (children) out.push(`  chain:     ${path}`);
    }
    if (found) {
      out.push(`  rules for the ancestor ${found.pid} (${found.attrs.comm}):`, ...verdictLines(found.verdicts));
    }
  }
  out.push(`  rules for pid ${pid}:`, ...verdictLines(self.verdicts));
  return out.join('\n');
}

/** `explain PID...`: why each process is (or is not) in its group, against a config file. */
export async function run(argv: string[]): Promise<number> {
  const flags = parseFlags(FLAGS, argv);
  if (flags.$help || flags.$rest.length === 0) {
    process.stdout.write(USAGE);
    return flags.$help ? 0 : 2;
  }
  const pids = flags.$rest.map(Number);
  const bad = flags.$rest.filter((_, i) => !Number.isInteger(pids[i]) || (pids[i] ?? 0) <= 0);
  if (bad.length) {
    process.stderr.write(`not a pid: ${bad.join(' ')}\n`);
    return 2;
  }
  const file = flags['config.path'] || defaultConfigPath;
  let matcher: RuleMatcher;
  try {
    matcher = loadConfigFile(file).matcher;
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    for (const p of err.problems) process.stderr.write(`${formatProblem(p)}\n`);
    return 1;
  }
  const host = new Host({ procfsRoot: flags.procfs, rootfs: flags['path.rootfs'], kubeletCgroupRoot: kubeletCgroupRootFlag(flags['kubelet.cgroup-root']) });
  host.beginCycle();
  process.stdout.write(`config: ${file}\n`);
  let missing = 0;
  for (const pid of pids) {
    const report = explainPid(host, matcher, pid, flags.children);
    if (report === undefined) {
      missing++;
      process.stdout.write(`pid ${pid}: no such process\n`);
    } else process.stdout.write(`${report}\n`);
  }
  return missing ? 1 : 0;
}
