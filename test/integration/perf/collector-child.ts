/**
 * Runs one perf collector cycle over this process itself and prints what happened as JSON: run by
 * privileges.test.ts as another user, or in another PID namespace.
 */
import { readlinkSync } from 'node:fs';
import { ExporterError } from '../../../src/errors.js';
import { perfCollector, pidStat, snapshot } from './workload.js';

const t = perfCollector({ events: ['TaskClock'], scope: 'auto' });
// this process as the procfs names it (another number when the procfs is of another PID namespace)
const procfsPid = Number(readlinkSync('/proc/self'));
const stat = pidStat(procfsPid);
let error: { code: string; message: string } | undefined;
try {
  t.collector.update(snapshot(1, [{ name: 'self', members: [{ pid: procfsPid, startTime: stat.startTime, numThreads: stat.numThreads }] }]));
} catch (err) {
  error = { code: err instanceof ExporterError ? err.code : 'UNKNOWN', message: (err as Error).message };
}
process.stdout.write(`${JSON.stringify({ pid: process.pid, procfsPid, threads: stat.numThreads, openFds: t.collector.openFds, error, logs: t.logs })}\n`);
t.collector.close();
