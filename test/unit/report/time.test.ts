import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration, parseInstant, parseInstantUtc } from '../../../src/report/time.js';

test('Prometheus durations', () => {
  assert.equal(parseDuration('1h'), 3_600_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('90s'), 90_000);
  assert.equal(parseDuration('1d'), 86_400_000);
  assert.equal(parseDuration('250ms'), 250);
  for (const bad of ['', '0s', '1', 'h', '30m1h', '1.5h', '-1h', '1 h']) assert.equal(parseDuration(bad), undefined, bad);
});

test('instants: Unix seconds or RFC 3339 with a zone', () => {
  assert.equal(parseInstant('1714564800')?.toISOString(), '2024-05-01T12:00:00.000Z');
  assert.equal(parseInstant('1714564800.25')?.toISOString(), '2024-05-01T12:00:00.250Z');
  assert.equal(parseInstant('2024-05-01T12:00:00Z')?.toISOString(), '2024-05-01T12:00:00.000Z');
  assert.equal(parseInstant('2024-05-01T14:00:00.5+02:00')?.toISOString(), '2024-05-01T12:00:00.500Z');
  // no zone would depend on the machine's local time: refused
  for (const bad of ['2024-05-01T12:00:00', '2024-05-01', 'now', '2024-13-01T00:00:00Z', '-5']) {
    assert.equal(parseInstant(bad), undefined, bad);
  }
});

test("prom -T: a date or date-time without a zone is UTC, whatever the machine's zone", () => {
  assert.equal(parseInstantUtc('2024-05-01T12:00:00')?.toISOString(), '2024-05-01T12:00:00.000Z');
  assert.equal(parseInstantUtc('2024-05-01 12:00')?.toISOString(), '2024-05-01T12:00:00.000Z');
  assert.equal(parseInstantUtc('2024-05-01t12:00:00.5')?.toISOString(), '2024-05-01T12:00:00.500Z');
  assert.equal(parseInstantUtc('2024-05-01')?.toISOString(), '2024-05-01T00:00:00.000Z');
  // with a zone or as Unix seconds it means what it says
  assert.equal(parseInstantUtc('2024-05-01T14:00:00+02:00')?.toISOString(), '2024-05-01T12:00:00.000Z');
  assert.equal(parseInstantUtc('1714564800')?.toISOString(), '2024-05-01T12:00:00.000Z');
  for (const bad of ['2024-13-01T00:00:00', '2024-05-01T25:00', 'yesterday', '2024-05-01T12', '']) {
    assert.equal(parseInstantUtc(bad), undefined, bad);
  }
});
