import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExporterError } from '../../../src/errors.js';
import { DEFAULT_PERF_OPTIONS, perfOptionsFromEnv, resolveEvents } from '../../../src/perf/options.js';

test('an environment without the seed variables sets nothing', () => {
  assert.deepEqual(perfOptionsFromEnv({ PORT: '2333' }), {});
});

test('the seed example: PERF_COLLECTOR_ENABLED=true, HW_PERF_LABELS=Instructions', () => {
  assert.deepEqual(perfOptionsFromEnv({ PERF_COLLECTOR_ENABLED: 'true', HW_PERF_LABELS: 'Instructions' }), { enabled: true, events: ['Instructions'] });
});

test('the three lists are merged in order; TimeEnabled/TimeRunning, blanks and repeats are dropped', () => {
  const env = {
    PERF_COLLECTOR_ENABLED: 'TRUE',
    HW_PERF_LABELS: 'CPUCycles, Instructions,TimeEnabled,TimeRunning',
    SW_PERF_LABELS: 'TaskClock,,ContextSwitches,TimeRunning',
    CACHE_PERF_LABELS: 'L1DataReadMiss,LastLevelReadMiss,TimeEnabled,L1DataReadMiss',
  };
  assert.deepEqual(perfOptionsFromEnv(env), {
    enabled: true,
    events: ['CPUCycles', 'Instructions', 'TaskClock', 'ContextSwitches', 'L1DataReadMiss', 'LastLevelReadMiss'],
  });
});

test('only time pseudo-events listed: enabled with no events; "false" disables', () => {
  assert.deepEqual(perfOptionsFromEnv({ SW_PERF_LABELS: 'TimeEnabled,TimeRunning' }), { events: [] });
  assert.deepEqual(perfOptionsFromEnv({ PERF_COLLECTOR_ENABLED: 'false' }), { enabled: false });
  assert.deepEqual(perfOptionsFromEnv({ PERF_COLLECTOR_ENABLED: '' }), {});
});

test('bad values name the variable and the value', () => {
  const fails = (env: Record<string, string>, re: RegExp) => assert.throws(() => perfOptionsFromEnv(env), (err: unknown) => {
    assert.ok(err instanceof ExporterError);
    assert.equal(err.code, 'FLAG_INVALID');
    assert.match(err.message, re);
    return true;
  });
  fails({ PERF_COLLECTOR_ENABLED: 'yes' }, /^PERF_COLLECTOR_ENABLED="yes": expected "true" or "false"/);
  fails({ HW_PERF_LABELS: 'Instrctions' }, /^HW_PERF_LABELS: "Instrctions": unknown event; HW_PERF_LABELS takes CPUCycles,Instructions,/);
  fails({ SW_PERF_LABELS: 'Instructions' }, /^SW_PERF_LABELS: "Instructions": it is a hardware event; SW_PERF_LABELS takes CPUClock,TaskClock,/);
  fails({ CACHE_PERF_LABELS: 'TaskClock' }, /^CACHE_PERF_LABELS: "TaskClock": it is a software event/);
});

test('resolveEvents canonicalises names, drops repeats, and lists the known names on error', () => {
  assert.deepEqual(resolveEvents(['taskclock', 'TaskClock', 'CPUCycles'], 'perf.events').map((e) => e.name), ['TaskClock', 'CPUCycles']);
  assert.throws(() => resolveEvents(['TaskClock', 'Bogus', 'Nope'], 'config.yaml: perf.events'), (err: unknown) => {
    assert.ok(err instanceof ExporterError);
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.match(err.message, /^config\.yaml: perf\.events: unknown perf event "Bogus", "Nope"; known events: CPUCycles, Instructions, /);
    return true;
  });
  assert.deepEqual(resolveEvents(DEFAULT_PERF_OPTIONS.events, 'defaults').map((e) => e.name), ['CPUCycles', 'Instructions', 'TaskClock']);
});
