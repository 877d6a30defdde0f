import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ParseError } from '../../../src/errors.js';
import { parsePidStat } from '../../../src/procfs/pid-stat.js';
import { fixtureBytes } from '../../helpers/fixtures.js';

const parse = (text: string | Buffer) => {
  const b = typeof text === 'string' ? Buffer.from(text) : text;
  return parsePidStat(b, b.length);
};

test('comm with spaces and parentheses is cut at the last ")"', () => {
  const s = parse(fixtureBytes('proc/stat-comm-parens'));
  assert.equal(s.comm, 'we ird) (name');
  assert.equal(s.pid, 19080);
  assert.equal(s.state, 'S');
  assert.equal(s.ppid, 19079);
  assert.equal(s.minflt, 132);
  assert.equal(s.numThreads, 1);
  assert.equal(s.startTime, 50384);
  assert.equal(s.vsize, 2990080);
  assert.equal(s.rss, 424);
});

test('all counter fields land in the right place', () => {
  const s = parse('42 (x) R 7 42 42 0 -1 4194560 11 12 13 14 15 16 17 18 20 0 3 0 99 1000 5 18446744073709551615 1 2 3\n');
  assert.deepEqual(
    [s.minflt, s.cminflt, s.majflt, s.cmajflt, s.utime, s.stime, s.cutime, s.cstime, s.numThreads, s.startTime, s.vsize, s.rss],
    [11, 12, 13, 14, 15, 16, 17, 18, 3, 99, 1000, 5],
  );
});

test('kernel thread, init and zombie fixtures parse', () => {
  assert.equal(parse(fixtureBytes('proc/stat-kthreadd')).comm, 'kthreadd');
  assert.equal(parse(fixtureBytes('proc/stat-kthreadd')).ppid, 0);
  assert.equal(parse(fixtureBytes('proc/stat-init')).pid, 1);
  const z = parse(fixtureBytes('proc/stat-zombie'));
  assert.equal(z.state, 'Z');
  assert.equal(z.rss, 0);
  assert.equal(parse(fixtureBytes('proc/stat-kernel-thread')).vsize, 0);
});

test('a comm holding a newline or bytes that are not UTF-8 still parses', () => {
  const b = Buffer.concat([Buffer.from('5 (a\n'), Buffer.from([0xff, 0xfe]), Buffer.from(')) S 1 5 5 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 10 100 2\n')]);
  const s = parse(b);
  assert.equal(s.comm, 'a\n\ufffd\ufffd)');
  assert.equal(s.utime, 1);
  assert.equal(s.stime, 2);
});

test('truncated or garbage input is a ParseError', () => {
  assert.throws(() => parse('12 (x) S 1 2'), ParseError);
  assert.throws(() => parse('no parens here'), ParseError);
  assert.throws(() => parse(''), ParseError);
});
