import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startExporter } from '../../helpers/exporter-process.js';
import { sample } from '../../helpers/namespace.js';
import { namedWorkload, sleep } from '../../helpers/workload.js';

/**
 * A process first seen after the exporter's first cycle is credited with its whole history only
 * if it started after that cycle (process-exporter's rule). With -recheck, a process that takes a
 * matching comm late is such a newcomer: one that did its I/O and CPU before the exporter started
 * must add nothing, one started after the first cycle must add everything it did.
 */
test('late newcomers: full credit only when started after the first cycle', { timeout: 90_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'newcomer-'));
  const config = join(dir, 'config.yaml');
  writeFileSync(config, 'process_names:\n  - name: "{{.Comm}}"\n    comm: [late-old, late-young]\n');
  const kids: ChildProcess[] = [];
  const start = async (name: string): Promise<number> => {
    const out = join(dir, `${name}.out`);
    const child = spawn(namedWorkload('late-wl'), ['latename', name, dir], { env: { ...process.env, WL_OUT: out }, stdio: 'ignore' });
    kids.push(child);
    while (!existsSync(out)) await sleep(50);
    return child.pid as number;
  };
  const counters = (pid: number) => {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return {
      cpu: (Number(stat[11]) + Number(stat[12])) / 100,
      writeBytes: Number(/^write_bytes: (\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'))?.[1]),
    };
  };
  const old = await start('late-old');
  const exporter = await startExporter(['-config.path', config, '-recheck', '-collect.min-interval', '0s']);
  try {
    await exporter.scrape(); // the first cycle: late-old already ran, under another comm
    await sleep(1100); // starttime has 10 ms ticks; be clearly after the first cycle
    const young = await start('late-young');
    const truth = counters(young);
    assert.ok(truth.writeBytes >= 1 << 20 && truth.cpu >= 0.25, `late-young did its work: ${JSON.stringify(truth)}`);
    for (const k of kids) k.kill('SIGUSR1');
    await sleep(300);
    const { text } = await exporter.scrape();
    const cpu = (g: string) => (sample(text, 'namedprocess_namegroup_cpu_seconds_total', { groupname: g, mode: 'user' }) ?? NaN) + (sample(text, 'namedprocess_namegroup_cpu_seconds_total', { groupname: g, mode: 'system' }) ?? NaN);
    const written = (g: string) => sample(text, 'namedprocess_namegroup_write_bytes_total', { groupname: g });
    t.diagnostic(`late-old (started before the exporter): cpu ${cpu('late-old')} s, written ${written('late-old')} B (its own: ${JSON.stringify(counters(old))})`);
    t.diagnostic(`late-young: cpu ${cpu('late-young')} s, written ${written('late-young')} B (its own: ${JSON.stringify(truth)})`);
    assert.equal(sample(text, 'namedprocess_namegroup_num_procs', { groupname: 'late-old' }), 1);
    assert.equal(written('late-old'), 0);
    assert.equal(cpu('late-old'), 0);
    assert.equal(written('late-young'), truth.writeBytes);
    assert.ok(Math.abs(cpu('late-young') - truth.cpu) <= 0.02, `late-young cpu ${cpu('late-young')} vs ${truth.cpu}`);
  } finally {
    for (const k of kids) k.kill('SIGKILL');
    await exporter.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
