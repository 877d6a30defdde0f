import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parsePressure, readPressure } from '../../../src/cgroup/pressure.js';
import { ParseError } from '../../../src/errors.js';
import { ProcReader } from '../../../src/host/proc-reader.js';

const FIXTURES = path.join(import.meta.dirname, '../../fixtures/cgroup/pressure');
const fixture = (name: string): Promise<string> => readFile(path.join(FIXTURES, name), 'utf8');

test('parses some and full with the kernel units kept apart (percent, microseconds)', async () => {
  const p = parsePressure(await fixture('cgroup-cpu-loaded.txt'));
  assert.deepEqual(p.some, { avg10Percent: 15.03, avg60Percent: 2.71, avg300Percent: 0.56, totalMicroseconds: 2138149 });
  assert.deepEqual(p.full, { avg10Percent: 5.07, avg60Percent: 0.91, avg300Percent: 0.19, totalMicroseconds: 718165 });
});

test('host io file from a real machine', async () => {
  const p = parsePressure(await fixture('host-io.txt'));
  assert.equal(p.some?.totalMicroseconds, 2496478);
  assert.equal(p.full?.totalMicroseconds, 2343701);
  assert.equal(p.full?.avg300Percent, 0.36);
});

test('cpu file of kernels before 5.13 has no full line', async () => {
  const p = parsePressure(await fixture('cpu-before-5.13.txt'));
  assert.equal(p.some?.totalMicroseconds, 123456789);
  assert.equal(p.full, undefined);
});

test('irq file has only full', async () => {
  const p = parsePressure(await fixture('irq.txt'));
  assert.equal(p.some, undefined);
  assert.deepEqual(p.full, { avg10Percent: 0, avg60Percent: 0.01, avg300Percent: 0, totalMicroseconds: 45678 });
});

test('unknown lines and keys are ignored; totals beyond 2^32 survive', async () => {
  const p = parsePressure(await fixture('unknown-lines.txt'));
  assert.equal(p.some?.totalMicroseconds, 98765432);
  assert.equal(p.some?.avg10Percent, 12.5);
  assert.equal(p.full?.totalMicroseconds, 4294967296123);
  assert.equal(p.full?.avg10Percent, 100);
});

test('empty text has neither line', () => {
  assert.deepEqual(parsePressure(''), { some: undefined, full: undefined });
});

test('a known line with a missing or bad field names file, line and field', () => {
  assert.throws(
    () => parsePressure('some avg10=0.00 avg60=0.00 avg300=0.00 total=1\nfull avg10=0.00 avg60=x avg300=0.00 total=0\n', '/sys/fs/cgroup/a/cpu.pressure'),
    (err: unknown) => err instanceof ParseError && err.code === 'PARSE_FAILED' &&
      err.file === '/sys/fs/cgroup/a/cpu.pressure' && /line 2 \(full\): field avg60: .*"x"/.test(err.message),
  );
  assert.throws(() => parsePressure('some avg10=0.00 avg60=0.00 avg300=0.00\n'), /line 1 \(some\): field total: expected a non-negative number, got nothing/);
  assert.throws(() => parsePressure('some avg10=-1.00 avg60=0.00 avg300=0.00 total=0\n'), /field avg10/);
});

test('readPressure reads a file and returns undefined for a missing one', (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'pressure-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'cpu.pressure');
  writeFileSync(file, 'some avg10=1.00 avg60=2.00 avg300=3.00 total=42\n');
  const reader = new ProcReader('/proc');
  assert.equal(readPressure(reader, file)?.some?.totalMicroseconds, 42);
  assert.equal(readPressure(reader, path.join(dir, 'gone.pressure')), undefined);
});
