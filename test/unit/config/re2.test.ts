import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileGoRegex, GoRegexError } from '../../../src/config/re2.js';

test("Go's syntax works natively: (?P<n>), (?i:...), \\A \\z, \\Q..\\E, POSIX classes, \\pL", () => {
  const port = compileGoRegex('--port=(?P<Port>\\d+)');
  assert.deepEqual(port.groupNames, ['Port']);
  assert.deepEqual(port.exec('app --port=8080 -v')?.named, { Port: '8080' });
  assert.equal(compileGoRegex('java -(?i:JAR)').test('java -jar x.jar'), true);
  assert.equal(compileGoRegex('(?i:JAVA) -JAR').test('java -jar x.jar'), false, 'the flag ends with its group');
  assert.equal(compileGoRegex('(?i)^JAVA').test('java -jar'), true);
  assert.equal(compileGoRegex('\\Abin\\z').test('bin'), true);
  assert.equal(compileGoRegex('\\Abin\\z').test('sbin'), false);
  assert.equal(compileGoRegex('\\Qa.b\\E').test('axb'), false);
  assert.equal(compileGoRegex('^[[:alpha:]]+$').test('abcXYZ'), true);
  assert.equal(compileGoRegex('^\\pL+$').test('héllo'), true);
});

test("\\s is Go's [\\t\\n\\f\\r ], not JavaScript's Unicode whitespace", () => {
  const re = compileGoRegex('^a\\sb$');
  assert.equal(re.test('a b'), true);
  assert.equal(re.test('a\tb'), true);
  assert.equal(re.test('a\u00a0b'), false, 'no-break space is not \\s in Go');
  assert.equal(re.test('a\u2028b'), false);
});

test('anchored regexes must match the whole text; unanchored ones search', () => {
  assert.equal(compileGoRegex('ku.*', { anchored: true }).test('kube-system'), true);
  assert.equal(compileGoRegex('system', { anchored: true }).test('kube-system'), false);
  assert.equal(compileGoRegex('system').test('kube-system'), true);
  assert.deepEqual(compileGoRegex('(?P<ns>kube)-(x)?', { anchored: true }).exec('kube-')?.groups, ['kube-', 'kube', undefined]);
});

test('what RE2 rejects is an error with the offset of the problem', () => {
  const cases: [string, RegExp, number][] = [
    ['ab(?=c)', /invalid or unsupported Perl syntax/, 2],
    ['java a**', /invalid nested repetition operator/, 6],
    ['(a)\\1', /invalid escape sequence/, 3],
    ['x{1001}', /invalid repeat count/, 1],
  ];
  for (const [src, message, offset] of cases) {
    assert.throws(() => compileGoRegex(src), (err: unknown) => err instanceof GoRegexError && message.test(err.message) && err.offset === offset, src);
  }
});

test('a pattern that backtracks exponentially in JavaScript is linear here', () => {
  // 2^40 steps for a backtracking engine; RE2 scans the text once. Bounded by count, not time:
  // a backtracking engine would not return at all.
  const re = compileGoRegex('(a+)+$');
  assert.equal(re.test(`x ${'a'.repeat(40)}!`), false);
  assert.equal(re.exec(`x ${'a'.repeat(4000)}!`), undefined);
  assert.equal(re.test(`x ${'a'.repeat(40)}`), true);
});
