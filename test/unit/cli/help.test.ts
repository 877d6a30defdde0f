/**
 * Every subcommand answers -h through the real entry point (src/cli/main.ts) with its own usage line,
 * its own flags and an example section; a subcommand that loses its example or prints another's flags
 * fails here.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';

const root = path.resolve(import.meta.dirname, '../../..');
const main = path.join(root, 'src/cli/main.ts');

interface HelpCase {
  args: string[];
  usage: RegExp;
  /** flags only this subcommand's help lists */
  flags: RegExp[];
  /** flags of another subcommand that must not appear */
  notFlags?: RegExp[];
}

const CASES: HelpCase[] = [
  { args: ['serve', '-h'], usage: /^usage: procgroup-exporter \[serve\]/, flags: [/^\s+-web\.listen-address\b/m, /^\s+-config\.path\b/m], notFlags: [/^\s+-from\b/m] },
  { args: ['once', '-h'], usage: /^usage: procgroup-exporter once /, flags: [/^\s+-once-to-stdout-delay\b/m, /^\s+-config\.path\b/m] },
  { args: ['check-config', '-h'], usage: /^usage: procgroup-exporter check-config FILE/, flags: [/No flags\./] },
  { args: ['explain', '-h'], usage: /^usage: procgroup-exporter explain /, flags: [/^\s+-children\b/m] },
  { args: ['top', '-h'], usage: /^usage: procgroup-exporter top /, flags: [/^\s+-from\b/m, /^\s+-sort\b/m, /^\s+-once\b/m] },
  { args: ['report', '-h'], usage: /^usage: procgroup-exporter report /, flags: [/^\s+--url URL/m, /--token-file F/, /--source SRC/] },
  { args: ['deploy', '-h'], usage: /^usage: procgroup-exporter deploy /, flags: [/--dry-run/, /--wait\b/, /--platform P/] },
  { args: ['delete', '-h'], usage: /^usage: procgroup-exporter delete /, flags: [/--dry-run/, /--platform P/], notFlags: [/--wait\b/] },
  { args: ['prom', '-h'], usage: /^usage: prom metrics /, flags: [/--interval TEXT/, /--mode \[housekeeping\|infra\]/] },
  { args: ['prom', 'metrics', '--help'], usage: /^usage: prom metrics /, flags: [/--interval TEXT/, /--skip-namespaces TEXT/] },
];

const run = promisify(execFile);

for (const c of CASES) {
  test(`${c.args.join(' ')}: own usage, own flags and an example`, async () => {
    const { stdout } = await run(process.execPath, ['--import', 'tsx', main, ...c.args], { cwd: root });
    assert.match(stdout, c.usage);
    for (const flag of c.flags) assert.match(stdout, flag);
    for (const flag of c.notFlags ?? []) assert.doesNotMatch(stdout, flag);
    // an "example:" (or "examples:") heading followed by at least one indented command line
    const example = /^examples?:\n((?: {2}\S.*\n)+)/m.exec(stdout);
    assert.ok(example, `no example section in:\n${stdout}`);
    const name = c.args[0] === 'prom' ? /^ {2}prom / : new RegExp(`^ {2}procgroup-exporter ${c.args[0] === 'serve' ? '' : `${c.args[0]} `}`);
    assert.match(example[1] ?? '', new RegExp(name.source, 'm'), 'the example runs this subcommand');
  });
}
