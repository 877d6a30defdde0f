/**
 * Attack: tell which users exist by timing. An unknown user is checked against a dummy hash of
 * the highest cost among the configured users, so it costs as much bcrypt work as the slowest
 * real one (before: always cost 10, so a cost-12 user answered 4x slower than an unknown one).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import { BasicAuth, bcryptCost } from '../../src/server/listen.js';

test('an unknown user is checked at the cost of the slowest configured hash', { timeout: 120_000 }, async () => {
  const users = new Map([
    ['fast', bcrypt.hashSync('pw-fast', 4)],
    ['slow', bcrypt.hashSync('pw-slow', 12)],
  ]);
  const checked: { hash: string; ms: number }[] = [];
  const auth = new BasicAuth({
    compare: async (password, hash) => {
      const t0 = performance.now();
      const ok = await bcrypt.compare(password, hash);
      checked.push({ hash, ms: performance.now() - t0 });
      return ok;
    },
  });
  const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
  assert.equal(await auth.check(basic('slow', 'wrong'), users), false);
  assert.equal(await auth.check(basic('nobody', 'wrong'), users), false);
  const [known, unknown] = checked;
  assert.equal(bcryptCost(known?.hash ?? ''), 12);
  assert.equal(bcryptCost(unknown?.hash ?? ''), 12, 'the unknown user was checked against a cost-12 dummy hash');
  console.log(`bcrypt work: known user (cost 12) ${known?.ms.toFixed(0)} ms, unknown user ${unknown?.ms.toFixed(0)} ms`);
});
