import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { startExporter } from '../../helpers/exporter-process.js';
import { sample } from '../../helpers/namespace.js';
import { sleep, startWorkload } from '../../helpers/workload.js';

/**
 * context_switches_total is the sum over every thread of a process, not its leader's
 * /proc/<pid>/status alone, and threads that exit take nothing back: 8 threads switch ~1,000
 * times a second each for 3 s, stay parked while the exporter sees them, then exit. The truth is
 * the process's getrusage (which keeps exited threads' switches).
 */
// With -threads=false and the taskstats source no thread is read: one TGID query per process sums
// every thread's switches, exited ones included. The procfs source sums each thread's status.
const root = process.getuid?.() === 0;
for (const [threads, source] of [[true, 'auto'], [false, 'procfs'], [false, 'taskstats']] as const) {
  const skip = source === 'taskstats' && !root ? 'the taskstats source needs root (CAP_NET_ADMIN)' : false;
  test(`context switches of all threads, exited ones kept (-threads=${threads} -source=${source})`, { timeout: 90_000, skip }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'ctx-'));
    const config = join(dir, 'config.yaml');
    writeFileSync(config, 'process_names:\n  - name: "{{.Comm}}"\n    comm: [ctx-exit]\n');
    const exporter = await startExporter(['-config.path', config, `-threads=${threads}`, `-source=${source}`, '-collect.min-interval', '0s']);
    let wl: ReturnType<typeof startWorkload> | undefined;
    try {
      const ctx = async () => {
        const { text } = await exporter.scrape();
        const get = (type: string) => sample(text, 'namedprocess_namegroup_context_switches_total', { groupname: 'ctx-exit', ctxswitchtype: type }) ?? NaN;
        return { voluntary: get('voluntary'), nonvoluntary: get('nonvoluntary') };
      };
      await ctx(); // first cycle: the workload starts after it, so all it does is credited
      wl = startWorkload('ctx-exit', ['threadexit', '9', '3', '3']);
      const { outFile } = wl;
      // while the threads switch, and once they are parked (the exporter sees their final counts)
      await sleep(1500);
      const switching = await ctx();
      while (!existsSync(`${outFile}.parked`)) await sleep(50);
      const parked = await ctx();
      while (!existsSync(outFile)) await sleep(50);
      const [truthVoluntary, truthNonvoluntary] = readFileSync(outFile, 'utf8').split(' ').map(Number);
      const exited = await ctx();
      t.diagnostic(`switching ${JSON.stringify(switching)}, parked ${JSON.stringify(parked)}, after exit ${JSON.stringify(exited)}, getrusage ${truthVoluntary} + ${truthNonvoluntary}`);
      assert.ok(parked.voluntary >= switching.voluntary && exited.voluntary >= parked.voluntary, 'never decreases');
      assert.ok(exited.nonvoluntary >= parked.nonvoluntary, 'never decreases');
      assert.ok((truthVoluntary ?? 0) > 8000, `the threads switched: ${truthVoluntary}`);
      // everything the threads did happened before the parked cycle saw them
      assert.ok(Math.abs(exited.voluntary - (truthVoluntary ?? 0)) <= 0.01 * (truthVoluntary ?? 0) + 5, `voluntary ${exited.voluntary} vs getrusage ${truthVoluntary}`);
      assert.ok(Math.abs(exited.nonvoluntary - (truthNonvoluntary ?? 0)) <= 0.01 * (truthNonvoluntary ?? 0) + 5, `nonvoluntary ${exited.nonvoluntary} vs getrusage ${truthNonvoluntary}`);
    } finally {
      wl?.stop();
      await exporter.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
