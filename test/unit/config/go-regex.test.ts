import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileGoRegex, GoRegexError } from '../../../src/config/go-regex.js';

function matches(re: string, text: string): boolean {
  return compileGoRegex(re).regex.test(text);
}

function rejects(re: string, message: RegExp, offset?: number): void {
  assert.throws(() => compileGoRegex(re), (err: unknown) => {
    assert.ok(err instanceof GoRegexError, `expected GoRegexError for ${re}, got ${String(err)}`);
    assert.match(err.message, message);
    if (offset !== undefined) assert.equal(err.offset, offset, `offset for ${re}`);
    return true;
  });
}

test('named groups (?P<name>) and (?<name>) become JS named groups', () => {
  const re = compileGoRegex('-config.path\\s+(?P<Cfgfile>\\S+) (?<Rest>.*)');
  assert.deepEqual(re.groupNames, ['Cfgfile', 'Rest']);
  const m = re.regex.exec('/bin/pe -config.path /etc/pe.yml -x');
  assert.equal(m?.groups?.Cfgfile, '/etc/pe.yml');
  assert.equal(m?.groups?.Rest, '-x');
});

test('search is unanchored like Go regexp.MatchString; anchored option matches the whole text', () => {
  assert.ok(matches('kube', 'openshift-kube-apiserver'));
  const anchored = compileGoRegex('openshift-.*|kube-system', { anchored: true }).regex;
  assert.ok(anchored.test('openshift-dns'));
  assert.ok(anchored.test('kube-system'));
  assert.ok(!anchored.test('my-openshift-dns'));
  assert.ok(!anchored.test('kube-system-x'));
  // anchoring wraps alternations as a whole and survives (?m)
  assert.ok(!compileGoRegex('(?m)a|b', { anchored: true }).regex.test('a\nb'));
});

test('leading flags: (?i), (?s), (?m), combined and cleared', () => {
  assert.ok(matches('(?i)java', 'JAVA'));
  assert.ok(!matches('java', 'JAVA'));
  assert.ok(!matches('a.b', 'a\nb'), 'Go . does not match newline');
  assert.ok(matches('a.b', 'a\rb'), 'Go . matches \\r (JS . alone would not)');
  assert.ok(matches('(?s)a.b', 'a\nb'));
  assert.ok(matches('(?is)A.B', 'a\nb'));
  assert.ok(matches('(?m)^b$', 'a\nb\nc'));
  assert.ok(!matches('^b$', 'a\nb\nc'));
  assert.ok(!matches('(?i)(?-i)java', 'JAVA'));
});

test('Go escapes: \\A \\z \\Q..\\E \\x{..} octal \\a and escaped punctuation', () => {
  assert.ok(matches('(?m)\\Ab', 'b\na'));
  assert.ok(!matches('(?m)\\Ab', 'a\nb'));
  assert.ok(matches('(?m)a\\z', 'b\na'));
  assert.ok(!matches('(?m)a\\z', 'a\nb'));
  assert.ok(matches('^\\Qa.b*(c\\E$', 'a.b*(c'));
  assert.ok(!matches('^\\Qa.b\\E$', 'axb'));
  assert.ok(matches('^\\Qno end', 'no end'));
  assert.ok(matches('^\\x{41}\\x42\\101\\0$', 'ABA\0'));
  assert.ok(matches('\\a', '\x07'));
  assert.ok(matches('^\\:\\-\\#\\%$', ':-#%'));
  assert.ok(matches('^a/b$', 'a/b'));
});

test('braces that are not a repetition are literal, as in Go', () => {
  assert.ok(matches('^a{2,3}$', 'aaa'));
  assert.ok(!matches('^a{2,3}$', 'aaaa'));
  assert.ok(matches('^a{2,}$', 'aaaaa'));
  assert.ok(matches('^a{,3}$', 'a{,3}'));
  assert.ok(matches('^{}$', '{}'));
  assert.ok(matches('^x}$', 'x}'));
});

test('character classes: leading ], ranges, literal -, POSIX and Unicode classes', () => {
  assert.ok(matches('^x[]a]y$', 'x]y'));
  assert.ok(matches('^[^]a]$', 'b'));
  assert.ok(!matches('^[^]a]$', ']'));
  assert.ok(matches('^[a-c-e]+$', 'a-e'));
  assert.ok(!matches('^[a-c-e]+$', 'd'));
  assert.ok(matches('^[\\d-x]+$', '1-x'));
  assert.ok(matches('^[[:alpha:]]+[[:digit:]]$', 'abc1'));
  assert.ok(matches('^[[:^digit:]]+$', 'abc'));
  assert.ok(!matches('^[[:^digit:]]+$', 'ab1'));
  assert.ok(matches('^[[:punct:]]+$', '!/:@[`{~'));
  assert.ok(matches('^[a[:space:]]+$', 'a \t'));
  assert.ok(matches('^[(){}|&]+$', '(){}|&'), 'JS v-mode syntax characters are escaped inside classes');
  assert.ok(matches('^\\pL+$', 'héllo'));
  assert.ok(matches('^\\p{Greek}+$', 'αβγ'));
  assert.ok(!matches('^\\p{Greek}+$', 'abc'));
  assert.ok(matches('^\\PL$', '1'));
  assert.ok(matches('^\\p{^L}$', '1'));
  assert.ok(matches('^[\\p{Greek}x]+$', 'αx'));
});

test('. matches one code point, like Go matches runes', () => {
  assert.ok(matches('^.$', '😀'));
});

test('unsupported syntax is rejected with the offending offset', () => {
  rejects('ab(?i:c)', /only supported at the very start/, 2);
  rejects('ab(?i)c', /only supported at the very start/, 2);
  rejects('(?U)a+', /ungreedy/, 0);
  rejects('a(?=b)', /lookahead\/lookbehind/, 1);
  rejects('a(?<!b)', /lookahead\/lookbehind/, 1);
  rejects('(a)\\1', /backreference/, 3);
  rejects('(?P<n>a)(?P=n)', /backreferences/, 8);
  rejects('(?P<1a>x)', /must not start with a digit/, 0);
  rejects('(?P<a>x)(?P<a>y)', /duplicate capture group name 'a'/, 8);
  rejects('(?P<a-b>x)', /invalid capture group name/, 0);
  rejects('a{1001}', /repeat count above 1000/, 1);
  rejects('a{3,2}', /invalid repeat count/, 1);
  rejects('\\C', /any byte/, 0);
  rejects('\\y', /invalid escape sequence \\y/, 0);
  rejects('[\\b]', /invalid escape sequence \\b inside a character class/, 1);
  rejects('ab\\', /trailing backslash/, 2);
  rejects('x[abc', /missing closing \]/, 1);
  rejects('[[:foo:]]', /unknown POSIX class/, 1);
  rejects('\\p{Klingon}', /unknown Unicode class 'Klingon'/, 0);
  rejects('[z-a]', /invalid character class range z-a/, 1);
  rejects('\\x4', /invalid \\x escape/, 0);
  rejects('(?x)a', /unknown flag 'x'/, 0);
  rejects('*a', /invalid regex: Nothing to repeat/);
  rejects('a**', /invalid regex/);
  rejects('(a', /invalid regex/);
});
