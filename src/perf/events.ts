/**
 * The perf events the collector knows, by the names of the seed deployment (perf-utils v0.4.0), with
 * their (type, config) in perf_event_attr and the Prometheus metric each one feeds.
 *
 * Generic cache events (type HW_CACHE) have config = cache | op << 8 | result << 16. perf-utils calls
 * RESULT_ACCESS "Hit"; the kernel counts accesses (hits + misses), so `..._l1_data_read_hit_total`
 * counts L1D read accesses and hits are `hit - miss`. The names are kept so seed dashboards carry over.
 */
import { PerfType } from './attr.js';

export type EventKind = 'hardware' | 'software' | 'cache';

export interface PerfEventSpec {
  /** the seed's name (HW_PERF_LABELS, SW_PERF_LABELS, CACHE_PERF_LABELS) */
  name: string;
  kind: EventKind;
  type: number;
  config: bigint;
  /** full metric name */
  metric: string;
  help: string;
  /** the kernel counts nanoseconds; exported in seconds */
  nanoseconds: boolean;
}

const PREFIX = 'namedprocess_namegroup_perf_';

const HW = {
  CPU_CYCLES: 0n,
  INSTRUCTIONS: 1n,
  CACHE_REFERENCES: 2n,
  CACHE_MISSES: 3n,
  BRANCH_INSTRUCTIONS: 4n,
  BRANCH_MISSES: 5n,
  BUS_CYCLES: 6n,
  STALLED_CYCLES_FRONTEND: 7n,
  STALLED_CYCLES_BACKEND: 8n,
  REF_CPU_CYCLES: 9n,
} as const;

const SW = {
  CPU_CLOCK: 0n,
  TASK_CLOCK: 1n,
  PAGE_FAULTS: 2n,
  CONTEXT_SWITCHES: 3n,
  CPU_MIGRATIONS: 4n,
  PAGE_FAULTS_MIN: 5n,
  PAGE_FAULTS_MAJ: 6n,
  ALIGNMENT_FAULTS: 7n,
  EMULATION_FAULTS: 8n,
} as const;

const CACHE = { L1D: 0n, L1I: 1n, LL: 2n, DTLB: 3n, ITLB: 4n, BPU: 5n, NODE: 6n } as const;
const OP = { READ: 0n, WRITE: 1n } as const;
const RESULT = { ACCESS: 0n, MISS: 1n } as const;

function cacheConfig(cache: bigint, op: bigint, result: bigint): bigint {
  return cache | (op << 8n) | (result << 16n);
}

function hw(name: string, snake: string, config: bigint, help: string): PerfEventSpec {
  return { name, kind: 'hardware', type: PerfType.HARDWARE, config, metric: `${PREFIX}${snake}_total`, help, nanoseconds: false };
}

function sw(name: string, snake: string, config: bigint, help: string, nanoseconds = false): PerfEventSpec {
  const metric = `${PREFIX}${snake}${nanoseconds ? '_seconds' : ''}_total`;
  return { name, kind: 'software', type: PerfType.SOFTWARE, config, metric, help, nanoseconds };
}

function cache(name: string, snake: string, c: bigint, op: keyof typeof OP, result: keyof typeof RESULT, what: string): PerfEventSpec {
  const counted = result === 'ACCESS' ? `${what} ${op.toLowerCase()} accesses (hits and misses; perf-utils calls them hits)` : `${what} ${op.toLowerCase()} misses`;
  return {
    name,
    kind: 'cache',
    type: PerfType.HW_CACHE,
    config: cacheConfig(c, OP[op], RESULT[result]),
    metric: `${PREFIX}${snake}_total`,
    help: `${counted}, PERF_TYPE_HW_CACHE`,
    nanoseconds: false,
  };
}

export const PERF_EVENTS: readonly PerfEventSpec[] = [
  hw('CPUCycles', 'cpu_cycles', HW.CPU_CYCLES, 'CPU cycles (PERF_COUNT_HW_CPU_CYCLES)'),
  hw('Instructions', 'instructions', HW.INSTRUCTIONS, 'Retired instructions (PERF_COUNT_HW_INSTRUCTIONS)'),
  hw('CacheRefs', 'cache_refs', HW.CACHE_REFERENCES, 'Cache references, usually last-level cache (PERF_COUNT_HW_CACHE_REFERENCES)'),
  hw('CacheMisses', 'cache_misses', HW.CACHE_MISSES, 'Cache misses, usually last-level cache (PERF_COUNT_HW_CACHE_MISSES)'),
  hw('BranchInstr', 'branch_instr', HW.BRANCH_INSTRUCTIONS, 'Retired branch instructions (PERF_COUNT_HW_BRANCH_INSTRUCTIONS)'),
  hw('BranchMisses', 'branch_misses', HW.BRANCH_MISSES, 'Mispredicted branches (PERF_COUNT_HW_BRANCH_MISSES)'),
  hw('BusCycles', 'bus_cycles', HW.BUS_CYCLES, 'Bus cycles (PERF_COUNT_HW_BUS_CYCLES)'),
  hw('StalledCyclesFrontend', 'stalled_cycles_frontend', HW.STALLED_CYCLES_FRONTEND, 'Cycles stalled in the front end (PERF_COUNT_HW_STALLED_CYCLES_FRONTEND)'),
  hw('StalledCyclesBackend', 'stalled_cycles_backend', HW.STALLED_CYCLES_BACKEND, 'Cycles stalled in the back end (PERF_COUNT_HW_STALLED_CYCLES_BACKEND)'),
  hw('RefCPUCycles', 'ref_cpu_cycles', HW.REF_CPU_CYCLES, 'Reference cycles, not scaled by frequency changes (PERF_COUNT_HW_REF_CPU_CYCLES)'),

  sw('CPUClock', 'cpu_clock', SW.CPU_CLOCK, 'Time on CPU measured by the per-CPU high resolution timer (PERF_COUNT_SW_CPU_CLOCK)', true),
  sw('TaskClock', 'task_clock', SW.TASK_CLOCK, 'Time on CPU of the group\'s tasks (PERF_COUNT_SW_TASK_CLOCK)', true),
  sw('PageFaults', 'page_faults', SW.PAGE_FAULTS, 'Page faults (PERF_COUNT_SW_PAGE_FAULTS)'),
  sw('ContextSwitches', 'context_switches', SW.CONTEXT_SWITCHES, 'Context switches (PERF_COUNT_SW_CONTEXT_SWITCHES)'),
  sw('CPUMigrations', 'cpu_migrations', SW.CPU_MIGRATIONS, 'Migrations to another CPU (PERF_COUNT_SW_CPU_MIGRATIONS)'),
  sw('MinorPageFaults', 'minor_page_faults', SW.PAGE_FAULTS_MIN, 'Minor page faults, no I/O (PERF_COUNT_SW_PAGE_FAULTS_MIN)'),
  sw('MajorPageFaults', 'major_page_faults', SW.PAGE_FAULTS_MAJ, 'Major page faults, with I/O (PERF_COUNT_SW_PAGE_FAULTS_MAJ)'),
  sw('AlignmentFaults', 'alignment_faults', SW.ALIGNMENT_FAULTS, 'Unaligned accesses fixed up by the kernel (PERF_COUNT_SW_ALIGNMENT_FAULTS)'),
  sw('EmulationFaults', 'emulation_faults', SW.EMULATION_FAULTS, 'Instructions emulated by the kernel (PERF_COUNT_SW_EMULATION_FAULTS)'),

  cache('L1DataReadHit', 'l1_data_read_hit', CACHE.L1D, 'READ', 'ACCESS', 'L1 data cache'),
  cache('L1DataReadMiss', 'l1_data_read_miss', CACHE.L1D, 'READ', 'MISS', 'L1 data cache'),
  cache('L1DataWriteHit', 'l1_data_write_hit', CACHE.L1D, 'WRITE', 'ACCESS', 'L1 data cache'),
  cache('L1InstrReadMiss', 'l1_instr_read_miss', CACHE.L1I, 'READ', 'MISS', 'L1 instruction cache'),
  cache('LastLevelReadHit', 'last_level_read_hit', CACHE.LL, 'READ', 'ACCESS', 'Last-level cache'),
  cache('LastLevelReadMiss', 'last_level_read_miss', CACHE.LL, 'READ', 'MISS', 'Last-level cache'),
  cache('LastLevelWriteHit', 'last_level_write_hit', CACHE.LL, 'WRITE', 'ACCESS', 'Last-level cache'),
  cache('LastLevelWriteMiss', 'last_level_write_miss', CACHE.LL, 'WRITE', 'MISS', 'Last-level cache'),
  cache('DataTLBReadHit', 'data_tlb_read_hit', CACHE.DTLB, 'READ', 'ACCESS', 'Data TLB'),
  cache('DataTLBReadMiss', 'data_tlb_read_miss', CACHE.DTLB, 'READ', 'MISS', 'Data TLB'),
  cache('DataTLBWriteHit', 'data_tlb_write_hit', CACHE.DTLB, 'WRITE', 'ACCESS', 'Data TLB'),
  cache('DataTLBWriteMiss', 'data_tlb_write_miss', CACHE.DTLB, 'WRITE', 'MISS', 'Data TLB'),
  cache('InstrTLBReadHit', 'instr_tlb_read_hit', CACHE.ITLB, 'READ', 'ACCESS', 'Instruction TLB'),
  cache('InstrTLBReadMiss', 'instr_tlb_read_miss', CACHE.ITLB, 'READ', 'MISS', 'Instruction TLB'),
  cache('BPUReadHit', 'bpu_read_hit', CACHE.BPU, 'READ', 'ACCESS', 'Branch prediction unit'),
  cache('BPUReadMiss', 'bpu_read_miss', CACHE.BPU, 'READ', 'MISS', 'Branch prediction unit'),
  cache('NodeReadHit', 'node_read_hit', CACHE.NODE, 'READ', 'ACCESS', 'Local NUMA node memory'),
  cache('NodeReadMiss', 'node_read_miss', CACHE.NODE, 'READ', 'MISS', 'Local NUMA node memory'),
  cache('NodeWriteHit', 'node_write_hit', CACHE.NODE, 'WRITE', 'ACCESS', 'Local NUMA node memory'),
  cache('NodeWriteMiss', 'node_write_miss', CACHE.NODE, 'WRITE', 'MISS', 'Local NUMA node memory'),
];

/** In the seed's label lists, but not events: the scaling they describe is `..._perf_scaling_ratio`. */
export const TIME_PSEUDO_EVENTS: readonly string[] = ['TimeEnabled', 'TimeRunning'];

/** Cheap and meaningful on any machine with a PMU: IPC (instructions / cycles) and on-CPU time. */
export const DEFAULT_EVENTS: readonly string[] = ['CPUCycles', 'Instructions', 'TaskClock'];

const BY_LOWER_NAME = new Map(PERF_EVENTS.map((e) => [e.name.toLowerCase(), e]));

/** The event of that name (case-insensitive), or undefined. */
export function findEvent(name: string): PerfEventSpec | undefined {
  return BY_LOWER_NAME.get(name.trim().toLowerCase());
}

export function eventNamesOfKind(kind: EventKind): string[] {
  return PERF_EVENTS.filter((e) => e.kind === kind).map((e) => e.name);
}
