import assert from 'node:assert/strict';
import { test } from 'node:test';
import { baseRegistry } from '../../../src/pipeline/setup.js';

test('the exporter reports its own process metrics but no event-loop lag (sampled each second, it always read about 1 s)', async () => {
  const text = await baseRegistry().registry.metrics();
  assert.match(text, /^process_resident_memory_bytes \d+/m);
  assert.doesNotMatch(text, /nodejs_eventloop_lag/);
});
