import http from 'node:http';
import https from 'node:https';
import type { SecureContext } from 'node:tls';

export interface ProbeOptions {
  timeoutMs?: number;
  /** source address (loopback aliases such as 127.0.0.2 stand for another client) */
  localAddress?: string;
  /** trusted CA for https URLs (built once: a context per probe would cost the prober, not the server) */
  secureContext?: SecureContext;
  /** request headers (Authorization, User-Agent) */
  headers?: Record<string, string>;
}

export interface ProbeResult {
  /** latency of each probe in ms; a failed probe (error, timeout, non-200) counts as Infinity */
  latencies: number[];
  failures: number;
}

/** One GET on a fresh connection; resolves with its latency in ms, or Infinity on failure. */
export function probeOnce(url: string, opts: ProbeOptions = {}): Promise<number> {
  const t0 = performance.now();
  const options: https.RequestOptions = { agent: false, timeout: opts.timeoutMs ?? 2000, localAddress: opts.localAddress, headers: opts.headers };
  if (opts.secureContext) Object.assign(options, { secureContext: opts.secureContext });
  const get = url.startsWith('https:') ? https.get : http.get;
  return new Promise((resolve) => {
    const req = get(url, options, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200 ? performance.now() - t0 : Infinity));
      res.on('error', () => resolve(Infinity));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(Infinity));
  });
}

/** `count` probes of `url`, one every `everyMs`, each on its own connection (as the kubelet does). */
export async function probeSeries(url: string, count: number, everyMs: number, opts: ProbeOptions = {}): Promise<ProbeResult> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) {
    latencies.push(await probeOnce(url, opts));
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return { latencies, failures: latencies.filter((l) => l === Infinity).length };
}

/**
 * `count` rounds, one every `everyMs`, each probing every URL in turn on a fresh connection: the
 * targets see the same machine load, so one can be the control of another.
 */
export async function probeAlternating(urls: readonly string[], count: number, everyMs: number, opts: ProbeOptions = {}): Promise<ProbeResult[]> {
  const latencies = urls.map(() => [] as number[]);
  for (let i = 0; i < count; i++) {
    for (const [k, url] of urls.entries()) latencies[k]?.push(await probeOnce(url, opts));
    await new Promise((r) => setTimeout(r, everyMs));
  }
  return latencies.map((l) => ({ latencies: l, failures: l.filter((x) => x === Infinity).length }));
}

/** The p-th percentile (0..100), nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] ?? NaN;
}
