import assert from 'node:assert/strict';
import { test } from 'node:test';
import { capLabel, MAX_LABEL_BYTES, TRUNCATED_MARKER } from '../../../src/config/label-cap.js';
import { parseConfig } from '../../../src/config/load.js';
import { fakeProcess } from './process-fixture.js';

test('label values up to 1 KiB are kept; longer ones are cut on a character boundary and marked', () => {
  assert.equal(capLabel('java'), 'java');
  const exact = 'x'.repeat(MAX_LABEL_BYTES);
  assert.equal(capLabel(exact), exact);
  const cut = capLabel('y'.repeat(128 * 1024));
  assert.equal(Buffer.byteLength(cut), MAX_LABEL_BYTES);
  assert.ok(cut.endsWith(TRUNCATED_MARKER));
  // 3-byte characters: the cut never splits one
  const wide = capLabel('€'.repeat(1000));
  assert.ok(Buffer.byteLength(wide) <= MAX_LABEL_BYTES && wide.endsWith(TRUNCATED_MARKER));
  assert.ok(!wide.includes('\ufffd'), 'no broken character');
});

test('a 128 KB argv[0] becomes a 1 KiB group name; templated labels are capped too', () => {
  const cfg = parseConfig('process_names:\n  - name: "{{.ExeBase}}"\n    comm: [evil]\n    labels: {cmd: "{{.ExeFull}}"}\n', 'c.yaml');
  const argv0 = `/tmp/${'a'.repeat(128 * 1024)}`;
  const g = cfg.matcher.match(fakeProcess({ pid: 7, comm: 'evil', cmdline: [argv0] }));
  assert.equal(Buffer.byteLength(g?.name ?? ''), MAX_LABEL_BYTES);
  assert.equal(Buffer.byteLength(g?.labels.cmd ?? ''), MAX_LABEL_BYTES);
  assert.ok(g?.name.endsWith(TRUNCATED_MARKER));
});
