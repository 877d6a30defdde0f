import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { createLogger } from '../../../src/log.js';
import { NetlinkError } from '../../../src/taskstats/netlink-socket.js';
import { selectCounterSource } from '../../../src/host/source-select.js';
import type { TaskstatsCounterSource } from '../../../src/host/taskstats-counters.js';

function logger(): { lines: string[]; log: ReturnType<typeof createLogger> } {
  const lines: string[] = [];
  return { lines, log: createLogger({ level: 'info', write: (l) => lines.push(l) }) };
}

const denied = (): TaskstatsCounterSource => {
  throw new NetlinkError('PERMISSION_DENIED', 'TASKSTATS_CMD_GET', 'EPERM', 'tgid 1');
};
// stands in for an opened source: selection only hands it on
const opened = { name: 'taskstats' } as unknown as TaskstatsCounterSource;

test('procfs: never opens taskstats', () => {
  const { lines, log } = logger();
  const s = selectCounterSource({ mode: 'procfs', procfsRoot: '/proc', open: denied }, log);
  assert.deepEqual([s.name, s.counterSource], ['procfs', undefined]);
  assert.equal(lines.length, 1);
});

test('auto: taskstats when it opens; the text files with the reason when denied', () => {
  const a = logger();
  assert.equal(selectCounterSource({ mode: 'auto', procfsRoot: '/proc', open: () => opened }, a.log).counterSource, opened);
  assert.match(a.lines[0] as string, /msg="counter source" source=taskstats mode=auto/);
  const b = logger();
  const s = selectCounterSource({ mode: 'auto', procfsRoot: '/proc', open: denied }, b.log);
  assert.equal(s.name, 'procfs');
  assert.equal(b.lines.length, 1, 'said once');
  assert.match(b.lines[0] as string, /source=procfs mode=auto reason=.*EPERM.*needs CAP_NET_ADMIN/);
});

test('taskstats: the error propagates instead of a silent fallback', () => {
  assert.throws(() => selectCounterSource({ mode: 'taskstats', procfsRoot: '/proc', open: denied }, logger().log), { code: 'PERMISSION_DENIED' });
});

test('a procfs that is not our PID namespace\'s (a copied tree, another namespace) keeps the text files', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'source-select-'));
  try {
    symlinkSync('1', path.join(dir, 'self')); // "self" is someone else
    const { lines, log } = logger();
    const s = selectCounterSource({ mode: 'auto', procfsRoot: dir, open: () => opened }, log);
    assert.equal(s.name, 'procfs');
    assert.match(lines[0] as string, /is not this kernel's procfs/);
    assert.throws(() => selectCounterSource({ mode: 'taskstats', procfsRoot: dir, open: () => opened }, log), { code: 'TASKSTATS_UNAVAILABLE' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
