/**
 * Attack: flood basic auth with wrong passwords so that bcrypt work starves everyone else. 64
 * clients (127.0.3.1-64, in their own process) send random wrong passwords, while a prober from
 * 127.0.0.2 whose credential is already verified (cached) asks for /health and /metrics every
 * 50 ms: every probe answers and the p99 stays under 100 ms, because bcrypt runs on a worker
 * thread and at most 32 uncached checks wait (429 beyond). With bcrypt on the main thread the
 * probes took p50 ~110 ms, p99 over 2 s (some timed out).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import bcrypt from 'bcryptjs';
import { startExporter } from '../helpers/exporter-process.js';
import { percentile, probeOnce } from '../helpers/health-probe.js';

const ATTACKERS = 64;
const ATTACK_SECONDS = 12;
const PROBES = 60;
const PROBE_EVERY_MS = 50;
const USER = 'prometheus';
const PASSWORD = 'correct horse battery staple';

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

// plain JavaScript in its own process, so the attacker's work does not delay the prober's timers.
// Each client sends its next request 20 ms after the last one is answered (up to 3,200 requests a
// second in all: the bcrypt queue stays full, and the test times auth, not a request flood), for a
// fixed time, then the process prints how many answers it got per status.
const ATTACKER = `
const http = require('node:http');
const { port, clients, seconds, user } = JSON.parse(process.argv[1]);
const counts = {};
const count = (k) => { counts[k] = (counts[k] || 0) + 1; };
const until = Date.now() + seconds * 1000;
let running = clients;
for (let i = 0; i < clients; i++) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  // known and unknown users alike: both cost a bcrypt check
  const name = i % 2 ? user : 'intruder' + i;
  const next = () => {
    if (Date.now() >= until) {
      agent.destroy();
      if (--running === 0) process.stdout.write(JSON.stringify(counts) + '\\n');
      return;
    }
    const password = Math.random().toString(36).slice(2);
    const req = http.get({
      host: '127.0.0.1', port, path: '/metrics', agent, localAddress: '127.0.3.' + (i + 1), timeout: 5000,
      headers: { Authorization: 'Basic ' + Buffer.from(name + ':' + password).toString('base64') },
    }, (res) => {
      count(res.statusCode);
      res.resume();
      res.on('end', () => setTimeout(next, 20));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => { count('error'); setTimeout(next, 10); });
  };
  next();
}
`;

function startAttack(port: number): Promise<Record<string, number>> {
  const child = spawn(process.execPath, ['-e', ATTACKER, JSON.stringify({ port, clients: ATTACKERS, seconds: ATTACK_SECONDS, user: USER })], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (c: string) => (out += c));
  const killer = setTimeout(() => child.kill('SIGKILL'), (ATTACK_SECONDS + 20) * 1000);
  return new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => {
      clearTimeout(killer);
      if (code === 0) resolve(JSON.parse(out) as Record<string, number>);
      else reject(new Error(`attacker exited with ${String(code ?? signal)}: ${out}`));
    });
  });
}

type Latencies = Record<'/health' | '/metrics', number[]>;

/**
 * PROBES rounds of /health and /metrics from 127.0.0.2, each on a fresh connection, every
 * PROBE_EVERY_MS; stops early at `deadline` (epoch ms).
 */
async function probe(url: string, authorization: string, phase: string, deadline: number): Promise<Latencies> {
  const latencies: Latencies = { '/health': [], '/metrics': [] };
  for (let i = 0; i < PROBES && Date.now() < deadline; i++) {
    for (const path of ['/health', '/metrics'] as const) {
      // its own User-Agent: a new scraper, handed the last cycle instead of waiting for a walk
      const headers = { Authorization: authorization, 'User-Agent': `prober/${phase}/${i}` };
      latencies[path].push(await probeOnce(`${url}${path}`, { localAddress: '127.0.0.2', headers }));
    }
    await new Promise((r) => setTimeout(r, PROBE_EVERY_MS));
  }
  return latencies;
}

const summary = (latencies: Latencies): string =>
  Object.entries(latencies)
    .map(([path, l]) => `${path} p50 ${percentile(l, 50).toFixed(1)} ms p99 ${percentile(l, 99).toFixed(1)} ms (${l.filter((v) => v === Infinity).length} failed of ${l.length})`)
    .join('; ');

test(`a cached credential answers in under 100 ms (p99) while ${ATTACKERS} clients flood wrong passwords`, { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'auth-flood-'));
  const web = join(dir, 'web.yml');
  // cost 10, as `htpasswd -nBC 10` makes: a check costs tens of ms of CPU
  writeFileSync(web, `basic_auth_users:\n  ${USER}: ${bcrypt.hashSync(PASSWORD, 10)}\n`);
  // a long -collect.min-interval: each probe (its own User-Agent) is handed the cycle the login
  // made, so /metrics times the server and its auth, not a walk of this machine's /proc
  const ex = await startExporter(['-web.config.file', web, '-collect.min-interval', '60s']);
  try {
    const authorization = basic(USER, PASSWORD);
    const login = await ex.scrape('/metrics', { headers: { Authorization: authorization, 'User-Agent': 'prober/login' } });
    assert.equal(login.status, 200, 'the good credential is verified (and cached) before the flood');

    // the same probes before the attack: what this machine's load alone costs (printed, not asserted)
    const quiet = await probe(ex.url, authorization, 'quiet', Date.now() + ATTACK_SECONDS * 1000);
    console.log(`before the attack: ${summary(quiet)}`);

    const attackEnds = Date.now() + ATTACK_SECONDS * 1000;
    const attack = startAttack(ex.port);
    // let every attacker get its first requests queued
    await new Promise((r) => setTimeout(r, 1000));
    // probes still running when the attack stops are not counted: they would time a quiet server
    const latencies = await probe(ex.url, authorization, 'attack', attackEnds);
    const counts = await attack;

    const attacked = (counts['401'] ?? 0) + (counts['429'] ?? 0);
    console.log(`during the attack: attackers' answers ${JSON.stringify(counts)}; ${summary(latencies)}`);
    assert.equal(counts['200'] ?? 0, 0, 'no attacker got in');
    assert.ok(attacked > 20, `the flood ran: ${attacked} answers 401 or 429`);
    for (const [path, l] of Object.entries(latencies)) {
      assert.equal(l.length, PROBES, `all ${PROBES} ${path} probes done during the attack`);
      assert.ok(!l.includes(Infinity), `every ${path} probe got 200`);
      assert.ok(percentile(l, 99) < 100, `${path} p99 ${percentile(l, 99).toFixed(1)} ms`);
    }
  } finally {
    await ex.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
