import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DEFAULT_EXPORTER_NAME, parseReportFlags, readCaBundle, readToken } from '../../../src/cli/report.js';

const NOW = new Date('2024-05-01T12:00:00Z');
const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src/cli/main.ts');

function flagError(argv: string[], message: RegExp): void {
  assert.throws(
    () => parseReportFlags(argv, NOW),
    (err: unknown) => (err as { code?: string }).code === 'FLAG_INVALID' && message.test((err as Error).message),
    argv.join(' '),
  );
}

test('defaults: 1h to now, csv, by avg, both sources, the exporter pattern', () => {
  const cmd = parseReportFlags(['--url', 'prom.example'], NOW);
  assert.ok(cmd);
  assert.equal(cmd.url.href, 'https://prom.example/');
  assert.equal(cmd.output, 'csv');
  assert.equal(cmd.timeoutMs, 30_000);
  assert.equal(cmd.insecure, false);
  assert.deepEqual(cmd.report, {
    at: NOW,
    window: { range: '1h', step: undefined },
    sources: ['groups', 'pods'],
    exclusions: { exporterName: DEFAULT_EXPORTER_NAME, skipNamespaces: [] },
    sortBy: 'avg',
  });
});

test("the seed's short flags keep their meaning (except -h, which is help)", () => {
  const cmd = parseReportFlags(
    ['--url', 'p', '-t', 'tok', '-i', '2h', '-T', '1714564800', '-S', 'a', '-S', 'b,c', '-S', 'a', '-o', 'yaml', '-s', 'max'],
    NOW,
  );
  assert.ok(cmd);
  assert.equal(cmd.token, 'tok');
  assert.equal(cmd.report.window.range, '2h');
  assert.equal(cmd.report.at.toISOString(), '2024-05-01T12:00:00.000Z');
  assert.deepEqual(cmd.report.exclusions.skipNamespaces, ['a', 'b', 'c']);
  assert.equal(cmd.output, 'yaml');
  assert.equal(cmd.report.sortBy, 'max');
  assert.equal(parseReportFlags(['-h'], NOW), undefined);
});

test('bad flags name the flag and what is expected', () => {
  flagError([], /--url is required/);
  flagError(['--url', 'p', '--token', 'a', '--token-file', 'f'], /--token and --token-file exclude each other/);
  flagError(['--url', 'p', '--ca-file', 'f', '--insecure'], /--ca-file and --insecure exclude each other/);
  flagError(['--url', 'http://p', '--insecure'], /apply to https:\/\/ URLs only/);
  flagError(['--url', 'p', '--range', '1 hour'], /--range "1 hour": not a Prometheus duration/);
  flagError(['--url', 'p', '--step', '0s'], /--step "0s": not a Prometheus duration/);
  flagError(['--url', 'p', '--at', 'yesterday'], /--at "yesterday": give RFC 3339 with a zone/);
  flagError(['--url', 'p', '-S', 'Bad_NS'], /--skip-namespace "Bad_NS": not a namespace name/);
  flagError(['--url', 'p', '-o', 'xml'], /--output "xml": must be one of csv, json, yaml, table/);
  flagError(['--url', 'p', '-s', 'p99'], /--sort-by "p99": must be one of avg, min, max/);
  flagError(['--url', 'p', '--source', 'nodes'], /--source "nodes": must be one of groups, pods, all/);
  flagError(['--url', 'p', '--bogus'], /Unknown option '--bogus'/);
});

test('token and CA files: read, checked, named in errors', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'report-cli-'));
  try {
    const token = path.join(dir, 'token');
    await writeFile(token, '  sha256~abc\n');
    assert.equal(await readToken(token), 'sha256~abc');
    await writeFile(token, '\n');
    await assert.rejects(readToken(token), new RegExp(`--token-file ${token}: the file is empty`));
    await assert.rejects(readToken(path.join(dir, 'nope')), /--token-file .*nope: cannot read: ENOENT/);

    const ca = path.join(dir, 'ca.pem');
    await writeFile(ca, 'not a certificate\n');
    await assert.rejects(readCaBundle(ca), /--ca-file .*ca\.pem: no PEM certificate/);
    await writeFile(ca, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
    await assert.rejects(readCaBundle(ca), /--ca-file .*ca\.pem: certificate 1 cannot be parsed/);
    const made = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', path.join(dir, 'key.pem'), '-out', ca, '-subj', '/CN=test', '-days', '1'], { encoding: 'utf8' });
    if (made.status === 0) assert.match(await readCaBundle(ca), /BEGIN CERTIFICATE/);
    else console.log('# openssl missing: valid CA bundle case not checked');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('the CLI: help exits 0, a flag error exits 2 with a pointer to -h', async () => {
  const run = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, ['--import', 'tsx', MAIN, 'report', ...args], (err, stdout, stderr) =>
        resolve({ code: err ? Number(err.code) : 0, stdout, stderr }),
      ),
    );
  const [help, bad] = await Promise.all([run(['-h']), run(['--url', 'p', '-o', 'xml'])]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^usage: procgroup-exporter report --url URL/);
  assert.equal(bad.code, 2);
  assert.equal(bad.stdout, '');
  assert.match(bad.stderr, /procgroup-exporter report: --output "xml": must be one of csv, json, yaml, table\nrun 'procgroup-exporter report -h'/);
});

test('the CLI: a token over http:// is refused (exit 2, nothing sent) unless --insecure-token', async () => {
  const seen: (string | undefined)[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers.authorization);
    res.writeHead(401).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const run = (args: string[]) =>
    new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(process.execPath, ['--import', 'tsx', MAIN, 'report', '--url', url, '--token', 's3cret', ...args], (err, _stdout, stderr) =>
        resolve({ code: err ? Number(err.code) : 0, stderr }),
      ),
    );
  try {
    const refused = await run([]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /refusing to send the bearer token over plain http:\/\/ to 127\.0\.0\.1:\d+.*use https:\/\/, or pass --insecure-token/);
    assert.deepEqual(seen, []);
    const sent = await run(['--insecure-token']);
    assert.equal(sent.code, 1);
    assert.match(sent.stderr, /refused the token \(401 Unauthorized\)/);
    assert.equal(seen[0], 'Bearer s3cret');
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
