import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { parsePidWchan, readPidWchan } from '../../../src/procfs/pid-wchan.js';
import { ProcReader } from '../../../src/host/proc-reader.js';
import { fixtureBytes } from '../../helpers/fixtures.js';

const parse = (s: string) => {
  const b = Buffer.from(s, 'latin1');
  return parsePidWchan(b, b.length);
};

test('wchan: the symbol a task sleeps in; "0" (running or not permitted) and empty read as no wchan', () => {
  const sleeping = fixtureBytes('proc/wchan-do-wait');
  assert.equal(parsePidWchan(sleeping, sleeping.length), 'do_wait');
  const running = fixtureBytes('proc/wchan-running');
  assert.equal(parsePidWchan(running, running.length), '');
  assert.equal(parse(''), '');
  assert.equal(parse('poll_schedule_timeout.constprop.0'), 'poll_schedule_timeout.constprop.0');
  assert.equal(parse('futex_do_wait\n'), 'futex_do_wait');
  assert.equal(parse('00'), '00');
  // only the bytes read count, not what is left in a reused buffer
  assert.equal(parsePidWchan(Buffer.from('do_waitXXXX'), 7), 'do_wait');
  assert.equal(parse('x'.repeat(4000)).length, 512);
});

test('wchan of a real sleeping process names its sleep; a process that is gone reads undefined', async () => {
  const reader = new ProcReader('/proc');
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    const path = `/proc/${child.pid}/wchan`;
    let wchan = '';
    for (let i = 0; i < 50 && !wchan; i++) {
      await new Promise((r) => setTimeout(r, 20));
      wchan = readPidWchan(reader, path) ?? '';
    }
    // the symbol depends on the kernel build; a sleeping task always has one when we may ptrace it
    assert.match(wchan, /^[A-Za-z_][\w.]*$/);
  } finally {
    child.kill('SIGKILL');
  }
  await new Promise((resolve) => child.once('exit', resolve));
  assert.equal(readPidWchan(reader, `/proc/${child.pid}/wchan`), undefined);
});
