import assert from 'node:assert/strict';
import { test } from 'node:test';
import { legacyMatcher } from '../../../src/config/legacy.js';
import { ExporterError } from '../../../src/errors.js';
import { fakeProcess, totalCalls } from './process-fixture.js';

function flagInvalid(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ExporterError);
    assert.equal(err.code, 'FLAG_INVALID');
    assert.match(err.message, message);
    return true;
  });
}

test('-procnames: each listed comm is a group named by it; nothing else matches', () => {
  const m = legacyMatcher({ procnames: ['bash', 'chromium-browse'] });
  assert.deepEqual(m.labelNames, []);
  assert.deepEqual(m.match(fakeProcess({ pid: 1, comm: 'bash' })), { name: 'bash', labels: {} });
  assert.equal(m.match(fakeProcess({ pid: 2, comm: 'chromium-browse' }))?.name, 'chromium-browse');
  assert.equal(m.match(fakeProcess({ pid: 3, comm: 'zsh' })), undefined);
});

test('-procnames entries may be the raw comma-separated flag value; empty names are skipped', () => {
  const m = legacyMatcher({ procnames: ['bash,,vim', 'top'] });
  for (const comm of ['bash', 'vim', 'top']) assert.equal(m.match(fakeProcess({ pid: 1, comm }))?.name, comm);
  assert.equal(m.match(fakeProcess({ pid: 1, comm: '' })), undefined);
});

test('-procnames alone never reads the command line', () => {
  const m = legacyMatcher({ procnames: ['bash'] });
  const p = fakeProcess({ pid: 1, comm: 'bash', cmdline: ['bash', '-l'] });
  m.match(p);
  assert.equal(totalCalls(p), 0);
});

test('-namemapping: comm selects the regex; the group is "comm:" + first non-empty capture', () => {
  const m = legacyMatcher({ namemapping: 'python2,([^/]+)\\.py,java,-jar\\s+([^/]+).jar' });
  const py = fakeProcess({ pid: 1, comm: 'python2', cmdline: ['python2', '/srv/app/worker.py', '--x'] });
  assert.equal(m.match(py)?.name, 'python2:worker');
  assert.equal(m.match(fakeProcess({ pid: 2, comm: 'java', cmdline: ['java', '-Xmx1g', '-jar', 'svc.jar'] }))?.name, 'java:svc');
  // no capture matched a non-empty string: not matched at all (process-exporter returns false)
  assert.equal(m.match(fakeProcess({ pid: 3, comm: 'python2', cmdline: ['python2', '-c', 'print(1)'] })), undefined);
  assert.equal(m.match(fakeProcess({ pid: 4, comm: 'ruby', cmdline: ['ruby', 'x.py'] })), undefined);
});

test('-namemapping: the first non-empty capture wins; regex without captures never matches', () => {
  const m = legacyMatcher({ namemapping: 'upstart,(--system)|(--user),cron,cron' });
  assert.equal(m.match(fakeProcess({ pid: 1, comm: 'upstart', cmdline: ['/sbin/upstart', '--user'] }))?.name, 'upstart:--user');
  assert.equal(m.match(fakeProcess({ pid: 2, comm: 'cron', cmdline: ['cron'] })), undefined);
});

test('-namemapping replaces the plain -procnames entry of the same name; others stay plain', () => {
  const m = legacyMatcher({ procnames: ['upstart', 'bash'], namemapping: 'upstart,(--user)' });
  assert.equal(m.match(fakeProcess({ pid: 1, comm: 'upstart', cmdline: ['upstart', '--user'] }))?.name, 'upstart:--user');
  assert.equal(m.match(fakeProcess({ pid: 2, comm: 'upstart', cmdline: ['upstart'] })), undefined);
  assert.equal(m.match(fakeProcess({ pid: 3, comm: 'bash', cmdline: ['bash'] }))?.name, 'bash');
});

test('-namemapping: a later mapping for the same name replaces the earlier one', () => {
  const m = legacyMatcher({ namemapping: 'java,(first),java,(second)' });
  assert.equal(m.match(fakeProcess({ pid: 1, comm: 'java', cmdline: ['java', 'first'] })), undefined);
  assert.equal(m.match(fakeProcess({ pid: 1, comm: 'java', cmdline: ['java', 'second'] }))?.name, 'java:second');
});

test('bad flags are FLAG_INVALID errors naming the problem', () => {
  flagInvalid(() => legacyMatcher({ namemapping: 'python2' }), /odd number of comma-separated tokens/);
  flagInvalid(() => legacyMatcher({ namemapping: 'python2,,java,x' }), /token 1 is empty/);
  flagInvalid(() => legacyMatcher({ namemapping: 'java,x(?=y)' }), /bad -namemapping regex "x\(\?=y\)" for "java": invalid or unsupported Perl syntax/);
  flagInvalid(() => legacyMatcher({ namemapping: 'java,(x' }), /bad -namemapping regex/);
  flagInvalid(() => legacyMatcher({}), /select no process/);
  flagInvalid(() => legacyMatcher({ procnames: [''], namemapping: '' }), /select no process/);
});
