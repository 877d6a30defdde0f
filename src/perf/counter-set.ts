/**
 * Counter sets: the perf fds counting one process (one fd per thread and event) or one cgroup (one fd
 * per CPU and event), read as deltas scaled for multiplexing, and an fd budget shared by all sets.
 */
import { ExporterError } from '../errors.js';
import { COUNTING_READ_FORMAT, COUNTING_READ_SIZE, encodeAttr, type PerfEventAttr } from './attr.js';
import type { PerfEventSpec } from './events.js';
import { PerfError, PerfFlag, type PerfSyscalls } from './syscall.js';

/** An event ready to open: its spec and its encoded perf_event_attr. */
export interface OpenableEvent {
  spec: PerfEventSpec;
  attr: Buffer;
}

export function openableEvents(specs: readonly PerfEventSpec[], flags: PerfEventAttr['flags']): OpenableEvent[] {
  return specs.map((spec) => ({ spec, attr: encodeAttr({ type: spec.type, config: spec.config, readFormat: COUNTING_READ_FORMAT, flags }) }));
}

/** Per-event sums of scaled deltas (in the kernel's unit: ns for time events), with the time sums behind them. */
export class DeltaSums {
  readonly values: Float64Array;
  /** ns, summed over the fds read */
  enabled = 0;
  running = 0;

  constructor(events: number) {
    this.values = new Float64Array(events);
  }

  add(other: DeltaSums): void {
    for (let i = 0; i < this.values.length; i++) this.values[i] = (this.values[i] ?? 0) + (other.values[i] ?? 0);
    this.enabled += other.enabled;
    this.running += other.running;
  }

  /** this - other, never below zero per event: what a counter shares with a nested one is counted there */
  subtractClamped(other: DeltaSums): void {
    for (let i = 0; i < this.values.length; i++) this.values[i] = Math.max(0, (this.values[i] ?? 0) - (other.values[i] ?? 0));
    this.enabled = Math.max(0, this.enabled - other.enabled);
    this.running = Math.max(0, this.running - other.running);
  }
}

/** Bounds the perf fds open at once (perf.max_fds). */
export class FdBudget {
  readonly limit: number;
  private inUse = 0;

  constructor(limit: number) {
    this.limit = limit;
  }

  get used(): number {
    return this.inUse;
  }

  get available(): number {
    return Math.max(0, this.limit - this.inUse);
  }

  take(): void {
    if (this.inUse >= this.limit) {
      throw new PerfError('PERF_FD_LIMIT', 'perf_event_open', 'BUDGET', `perf.max_fds=${this.limit} in use`);
    }
    this.inUse++;
  }

  release(n: number): void {
    this.inUse = Math.max(0, this.inUse - n);
  }
}

const scratch = Buffer.alloc(COUNTING_READ_SIZE);

/**
 * The count of one interval, estimated for the whole time the counter was enabled: when the PMU
 * multiplexed it (ran `running` of `enabled` ns), value * enabled / running, as perf stat scales.
 * Works on deltas, so each interval is scaled by its own ratio and the sum never decreases.
 */
export function scaledDelta(value: bigint, enabled: bigint, running: bigint): number {
  if (value <= 0n) return 0;
  const v = Number(value);
  return running > 0n && enabled > running ? v * (Number(enabled) / Number(running)) : v;
}

/**
 * fds of one target. Each fd keeps its last raw reading so a read yields the delta since the previous
 * one, scaled by delta(time_enabled) / delta(time_running) when the PMU multiplexed the counter in
 * between: deltas stay >= 0 even when the multiplexing ratio changes.
 */
export class CounterSet {
  private readonly budget: FdBudget;
  private readonly syscalls: PerfSyscalls;
  private readonly fds: number[] = [];
  private readonly eventOf: number[] = [];
  /** value, enabled, running per fd */
  private readonly last: bigint[] = [];
  private closed = false;

  constructor(budget: FdBudget, syscalls: PerfSyscalls) {
    this.budget = budget;
    this.syscalls = syscalls;
  }

  get size(): number {
    return this.fds.length;
  }

  /** Opens one counter within the budget; throws what perfEventOpen throws. */
  open(event: OpenableEvent, eventIndex: number, pid: number, cpu: number, flags: number): void {
    this.budget.take();
    let fd: number;
    try {
      fd = this.syscalls.open(event.attr, pid, cpu, -1, flags);
    } catch (err) {
      this.budget.release(1);
      throw err;
    }
    this.fds.push(fd);
    this.eventOf.push(eventIndex);
    this.last.push(0n, 0n, 0n);
  }

  /** Adds the deltas since the last read into `into`. */
  readInto(into: DeltaSums): void {
    for (let i = 0; i < this.fds.length; i++) {
      const r = this.syscalls.read(this.fds[i] as number, scratch);
      const j = i * 3;
      const value = r.value - (this.last[j] as bigint);
      const enabled = r.enabled - (this.last[j + 1] as bigint);
      const running = r.running - (this.last[j + 2] as bigint);
      this.last[j] = r.value;
      this.last[j + 1] = r.enabled;
      this.last[j + 2] = r.running;
      if (value <= 0n && enabled <= 0n) continue;
      const e = this.eventOf[i] as number;
      into.values[e] = (into.values[e] ?? 0) + scaledDelta(value, enabled, running);
      into.enabled += Number(enabled > 0n ? enabled : 0n);
      into.running += Number(running > 0n ? running : 0n);
    }
  }

  /** Closes every fd (idempotent). Read first: counts since the last read are lost. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    let failure: unknown;
    for (const fd of this.fds) {
      try {
        this.syscalls.close(fd);
      } catch (err) {
        failure ??= err;
      }
    }
    this.budget.release(this.fds.length);
    this.fds.length = 0;
    if (failure) throw failure;
  }
}

/** PID_CGROUP for cgroup sets, nothing for task sets */
export const TASK_OPEN_FLAGS = 0;
export const CGROUP_OPEN_FLAGS = PerfFlag.PID_CGROUP;

export function isFdLimit(err: unknown): boolean {
  return err instanceof ExporterError && err.code === 'PERF_FD_LIMIT';
}
