/**
 * Cost of the perf collector, measured on this machine (node --import tsx bench/perf-cost.ts):
 * - fds: one per (thread, event) in task scope, one per (CPU, event) per counted cgroup;
 * - exporter CPU to open and to read counters, per fd;
 * - overhead on the counted processes: a context-switch-heavy ping-pong over pipes (two processes,
 *   PERF_BENCH_ROUNDS round trips, pinned to CPU PERF_BENCH_CPU if set), timed uncounted and counted,
 *   alternating, median of 5 each.
 * Software events only where the machine has no PMU; hardware events are probed and added when present.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Registry } from 'prom-client';
import { PerfCollector } from '../src/collectors/perf.js';
import type { CycleSnapshot, GroupSnapshot, ProcessMember } from '../src/grouper/snapshot.js';
import { createLogger } from '../src/log.js';
import { COUNTING_READ_FORMAT, encodeAttr } from '../src/perf/attr.js';
import { findEvent } from '../src/perf/events.js';
import { closeFd, perfEventOpen } from '../src/perf/syscall.js';
import { newProcessMember } from '../src/tracker/updates.js';
import { Host } from '../src/host/host.js';

const PROCESSES = Number(process.env.PERF_BENCH_PROCESSES ?? 200);
const READS = Number(process.env.PERF_BENCH_READS ?? 50);
const ROUNDS = Number(process.env.PERF_BENCH_ROUNDS ?? 100_000);
const PIN = process.env.PERF_BENCH_CPU;
const SOFTWARE = ['TaskClock', 'ContextSwitches', 'PageFaults'];
const HARDWARE = ['CPUCycles', 'Instructions'];

const PINGPONG = `
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv) {
  long rounds = atol(argv[1]);
  int a[2], b[2];
  char c = 0;
  if (pipe(a) || pipe(b)) return 1;
  if (fork() == 0) {
    for (long i = 0; i < rounds; i++) { if (read(a[0], &c, 1) != 1) return 1; if (write(b[1], &c, 1) != 1) return 1; }
    return 0;
  }
  for (long i = 0; i < rounds; i++) { if (write(a[1], &c, 1) != 1) return 1; if (read(b[0], &c, 1) != 1) return 1; }
  return 0;
}
`;

function startTime(pid: number): { startTime: number; numThreads: number } {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return { startTime: Number(f[19]), numThreads: Number(f[17]) };
}

function snapshot(cycle: number, members: ProcessMember[]): CycleSnapshot {
  const group = { key: 'bench', name: 'bench', labels: {}, members } as unknown as GroupSnapshot;
  return { timeMs: Date.now(), intervalSeconds: 0, durationSeconds: 0, cycle, groups: [group], host: { user: 0, system: 0, unaccounted: 0 }, errors: { scrapeErrors: 0, procReadErrors: 0, partialErrors: 0, byFile: new Map() } };
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

function collector(events: string[], inherit: 'threads' | 'tree' = 'threads'): PerfCollector {
  const c = new PerfCollector({ enabled: true, events, scope: 'task', inherit, maxFds: 100_000, host: new Host({ procfsRoot: '/proc', containerNames: false }), log: createLogger({ level: 'error' }) });
  c.register(new Registry());
  return c;
}

async function readCost(events: string[]): Promise<void> {
  const children: ChildProcess[] = [];
  for (let i = 0; i < PROCESSES; i++) children.push(spawn('sleep', ['600'], { stdio: 'ignore' }));
  await new Promise((r) => setTimeout(r, 300));
  const members = children.map((c): ProcessMember => newProcessMember({ pid: c.pid as number, comm: 'sleep', ...startTime(c.pid as number) }));
  const c = collector(events);
  c.update(snapshot(0, [])); // probe (koffi load, event checks) outside the timings
  let cpu0 = cpuMs();
  let t0 = performance.now();
  c.update(snapshot(1, members));
  const openWall = performance.now() - t0;
  const openCpu = cpuMs() - cpu0;
  const fds = c.openFds;
  cpu0 = cpuMs();
  t0 = performance.now();
  for (let i = 0; i < READS; i++) c.update(snapshot(2 + i, members));
  const readWall = (performance.now() - t0) / READS;
  const readCpu = (cpuMs() - cpu0) / READS;
  c.close();
  for (const ch of children) ch.kill('SIGKILL');
  console.log(`events ${events.join(',')}: ${PROCESSES} single-threaded processes -> ${fds} fds (${fds / PROCESSES} per thread)`);
  console.log(`  open: ${openWall.toFixed(1)} ms wall, ${openCpu.toFixed(1)} ms CPU = ${((openCpu * 1000) / fds).toFixed(1)} us CPU per fd (with one stat read and one task listing per process)`);
  console.log(`  read cycle: ${readWall.toFixed(2)} ms wall, ${readCpu.toFixed(2)} ms CPU = ${((readCpu * 1000) / fds).toFixed(2)} us CPU per fd per cycle`);
}

async function overhead(events: string[]): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'perf-bench-'));
  writeFileSync(path.join(dir, 'pingpong.c'), PINGPONG);
  const bin = path.join(dir, 'pingpong');
  execFileSync('cc', ['-O2', '-o', bin, path.join(dir, 'pingpong.c')]);
  const run = async (counted: boolean): Promise<number> => {
    // tree: the ping-pong's forked half inherits the counters too, so both sides of every switch are counted
    const c = counted ? collector(events, 'tree') : undefined;
    // stopped until its counters exist, so the whole run is counted
    const script = `kill -STOP $$; exec ${bin} ${ROUNDS}`;
    // PERF_BENCH_CPU=n pins both halves to one CPU: less noise from other load, the classic pipe benchmark
    const child = PIN === undefined
      ? spawn('sh', ['-c', script], { stdio: 'ignore' })
      : spawn('taskset', ['-c', PIN, 'sh', '-c', script], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 50));
    if (c) {
      const pid = child.pid as number;
      c.update(snapshot(1, [newProcessMember({ pid, comm: 'sh', ...startTime(pid) })]));
    }
    const start = performance.now();
    process.kill(child.pid as number, 'SIGCONT');
    await new Promise((r) => child.once('exit', r));
    const ms = performance.now() - start;
    c?.close();
    return ms;
  };
  const plain: number[] = [];
  const counted: number[] = [];
  for (let i = 0; i < 5; i++) {
    plain.push(await run(false));
    counted.push(await run(true));
  }
  const p = median(plain);
  const q = median(counted);
  console.log(`ping-pong ${ROUNDS} round trips (${2 * ROUNDS} context switches): uncounted ${p.toFixed(0)} ms, counted by ${events.join(',')} ${q.toFixed(0)} ms: ` +
    `${(((q - p) / p) * 100).toFixed(1)}% = ${(((q - p) * 1000) / (2 * ROUNDS)).toFixed(2)} us per context switch`);
}

function supported(name: string): boolean {
  const spec = findEvent(name);
  if (!spec) return false;
  try {
    closeFd(perfEventOpen(encodeAttr({ type: spec.type, config: spec.config, readFormat: COUNTING_READ_FORMAT, flags: {} }), 0, -1, -1, 0));
    return true;
  } catch {
    return false;
  }
}

const hardware = HARDWARE.filter(supported);
console.log(`hardware events here: ${hardware.join(', ') || 'none (no PMU)'}; ${process.env.PERF_BENCH_NOTE ?? ''}`);
await readCost(['TaskClock']);
await readCost([...SOFTWARE, ...hardware]);
await overhead(['TaskClock']);
await overhead([...SOFTWARE, ...hardware]);
