import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EXPORTER_FLAGS } from '../../../src/cli/exporter-flags.js';
import { FlagError, parseDuration, parseFlags } from '../../../src/cli/flags.js';
import { parseKubeFlags } from '../../../src/cli/deploy.js';
import { parseReportFlags } from '../../../src/cli/report.js';
import { exporterFlags, parseListenAddress } from '../../../src/cli/serve.js';
import { groupingSource } from '../../../src/cli/exporter-flags.js';

test('process-exporter command lines parse: one or two dashes, = or space, bool forms', () => {
  const f = parseFlags(EXPORTER_FLAGS, ['-config.path', '/etc/pe.yaml', '--procfs=/host/proc', '-threads=false', '-children', 'false', '--gather-smaps', '-web.listen-address=:9100']);
  assert.equal(f['config.path'], '/etc/pe.yaml');
  assert.equal(f.procfs, '/host/proc');
  assert.equal(f.threads, false);
  // like Go's flag package, a bare boolean takes no value: "false" ends the flags
  assert.equal(f.children, true);
  assert.deepEqual(f.$rest, ['false', '--gather-smaps', '-web.listen-address=:9100']);
  const g = parseFlags(EXPORTER_FLAGS, ['-gather-smaps', '-once-to-stdout-delay', '1m30s', '--', '-x']);
  assert.equal(g['gather-smaps'], true);
  assert.equal(g['once-to-stdout-delay'], 90_000);
  assert.deepEqual(g.$rest, ['-x']);
  assert.ok(g.$set.has('gather-smaps') && !g.$set.has('threads'));
  assert.equal(g.threads, true, 'defaults kept');
});

test('unknown flags, missing values and bad values are FlagErrors naming the flag', () => {
  assert.throws(() => parseFlags(EXPORTER_FLAGS, ['-no-such-flag']), (e: unknown) => e instanceof FlagError && /-no-such-flag/.test(e.message));
  assert.throws(() => parseFlags(EXPORTER_FLAGS, ['-procfs']), /needs an argument: -procfs/);
  assert.throws(() => parseFlags(EXPORTER_FLAGS, ['-threads=maybe']), /invalid boolean value "maybe" for flag -threads/);
  assert.throws(() => parseFlags(EXPORTER_FLAGS, ['-collect.min-interval', '5 seconds']), /collect.min-interval/);
});

test('Go durations', () => {
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('5s'), 5000);
  assert.equal(parseDuration('1h2m3.5s'), 3_723_500);
  assert.equal(parseDuration('0'), 0);
  for (const bad of ['', '5', '5x', 's5', '1s ']) assert.throws(() => parseDuration(bad), FlagError, bad);
});

test('PORT sets the listen port only when the flag is absent', () => {
  assert.equal(exporterFlags([], { PORT: '2333' })['web.listen-address'], ':2333');
  assert.equal(exporterFlags(['-web.listen-address', '127.0.0.1:9'], { PORT: '2333' })['web.listen-address'], '127.0.0.1:9');
  assert.equal(exporterFlags([], {})['web.listen-address'], ':9256');
});

test('listen addresses', () => {
  assert.deepEqual(parseListenAddress(':9256'), { host: undefined, port: 9256 });
  assert.deepEqual(parseListenAddress('127.0.0.1:80'), { host: '127.0.0.1', port: 80 });
  assert.deepEqual(parseListenAddress('[::1]:9256'), { host: '::1', port: 9256 });
  assert.throws(() => parseListenAddress('9256'), /invalid -web.listen-address/);
});

test('config source: file, embedded default, legacy flags, and not both', () => {
  assert.match(groupingSource(exporterFlags([], {})).configFile ?? '', /config\/default\.yaml$/);
  assert.equal(groupingSource(exporterFlags(['-procnames', 'bash,sshd'], {})).configFile, undefined);
  const legacy = groupingSource(exporterFlags(['-procnames', 'bash'], {})).load();
  assert.equal(legacy.config, undefined);
  assert.throws(() => groupingSource(exporterFlags(['-config.path', 'x.yaml', '-procnames', 'bash'], {})), /cannot be used with -namemapping or -procnames/);
});

test('one flag dialect: report and deploy take Go-style single-dash long flags like serve', () => {
  const go = parseReportFlags(['-url', 'prom.example', '-range=2h', '-insecure', '-o', 'json', '-skip-namespace', 'a', '-S', 'b'], new Date(0));
  const gnu = parseReportFlags(['--url', 'prom.example', '--range=2h', '--insecure', '-o', 'json', '--skip-namespace', 'a', '-S', 'b'], new Date(0));
  assert.ok(go && gnu);
  assert.equal(go.url.href, 'https://prom.example/');
  assert.deepEqual(go, gnu);
  assert.equal(parseReportFlags(['-url', 'p', '-insecure=false'], new Date(0))?.insecure, false);
  assert.equal(parseKubeFlags(['-dry-run', '-namespace', 'mon'])?.dryRun, true);
  assert.equal(parseKubeFlags(['-dry-run', '-namespace', 'mon'])?.namespace, 'mon');
  assert.equal(parseKubeFlags(['-dry-run=false'])?.dryRun, false);
  // a string value that starts with a dash is a value, as in Go
  assert.equal(parseKubeFlags(['-image', '-odd'])?.image, '-odd');
  assert.throws(() => parseKubeFlags(['-dry-run=maybe']), /invalid boolean value "maybe" for flag -dry-run/);
});

test('-compat=process-exporter turns on what process-exporter emits, unless a flag says otherwise', () => {
  const d = exporterFlags([], {});
  assert.deepEqual([d['threads.details'], d['collector.wchan'], d['gather-smaps']], [true, false, false], 'defaults');
  const c = exporterFlags(['-compat=process-exporter'], {});
  assert.deepEqual([c['threads.details'], c['collector.wchan'], c['gather-smaps']], [true, true, true]);
  const o = exporterFlags(['-compat', 'process-exporter', '-gather-smaps=false', '-collector.wchan=false'], {});
  assert.deepEqual([o['collector.wchan'], o['gather-smaps']], [false, false]);
  assert.throws(() => exporterFlags(['-compat=node-exporter'], {}), (e: unknown) => e instanceof FlagError && /-compat: want process-exporter/.test(e.message));
});
