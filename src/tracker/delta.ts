/**
 * The one delta rule of every counter the tracker credits (process and thread CPU, faults,
 * context switches, I/O bytes): nothing at the baseline (identities seen in the exporter's first
 * cycle), everything since its start for a newcomer (first seen later: it started between two
 * cycles), the growth since the last cycle for a known identity, never negative.
 */
export const BASELINE = 0;
export const NEWCOMER = 1;
export const KNOWN = 2;
export type Phase = typeof BASELINE | typeof NEWCOMER | typeof KNOWN;

/** the phase of an identity first seen in cycle `firstCycle`, at cycle `cycle` (the first cycle is 1) */
export function phaseOf(firstCycle: number, cycle: number): Phase {
  return firstCycle !== cycle ? KNOWN : cycle === 1 ? BASELINE : NEWCOMER;
}

/** What a cumulative counter adds this cycle, given its value now and at the last cycle. */
export function increment(phase: Phase, now: number, last: number): number {
  return phase === KNOWN ? Math.max(0, now - last) : phase === NEWCOMER ? Math.max(0, now) : 0;
}
