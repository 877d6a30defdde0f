/**
 * Worker thread: GETs <url>/health every `intervalMs` until told to stop, then posts the latencies
 * (ms). A thread of its own, so parsing large /metrics bodies in the main thread cannot delay it.
 */
import { Agent } from 'node:http';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { httpGet } from './targets.js';

export interface ProbeData {
  url: string;
  intervalMs: number;
}

const { url, intervalMs } = workerData as ProbeData;
const agent = new Agent({ keepAlive: true, maxSockets: 1 });
let running = true;
parentPort!.on('message', () => {
  running = false;
});

const latencies: number[] = [];
let failures = 0;
while (running) {
  const t0 = performance.now();
  try {
    const res = await httpGet(agent, `${url}/health`, {}, 10_000);
    if (res.status === 200) latencies.push(performance.now() - t0);
    else failures++;
  } catch {
    failures++;
  }
  await new Promise((r) => setTimeout(r, intervalMs));
}
agent.destroy();
parentPort!.postMessage({ latencies, failures });
