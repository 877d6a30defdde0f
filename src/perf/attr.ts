/**
 * struct perf_event_attr (include/uapi/linux/perf_event.h), encoded byte for byte.
 *
 *   offset  size  field
 *        0     4  __u32 type                 PERF_TYPE_*
 *        4     4  __u32 size                 sizeof the struct the caller passes (PERF_ATTR_SIZE_VER*)
 *        8     8  __u64 config               event within the type
 *       16     8  __u64 sample_period | sample_freq
 *       24     8  __u64 sample_type
 *       32     8  __u64 read_format          PERF_FORMAT_*
 *       40     8  __u64 flags                bit fields, see FLAG_BITS
 *       48     4  __u32 wakeup_events | wakeup_watermark
 *       52     4  __u32 bp_type
 *       56     8  __u64 bp_addr | config1
 *       64     8  __u64 bp_len | config2     (VER1 = 72)
 *       72     8  __u64 branch_sample_type   (VER2 = 80)
 *       80     8  __u64 sample_regs_user
 *       88     4  __u32 sample_stack_user
 *       92     4  __s32 clockid              (VER3 = 96)
 *       96     8  __u64 sample_regs_intr     (VER4 = 104)
 *      104     4  __u32 aux_watermark
 *      108     2  __u16 sample_max_stack
 *      110     2  __u16 __reserved_2         (VER5 = 112)
 *      112     4  __u32 aux_sample_size
 *      116     4  __u32 __reserved_3         (VER6 = 120)
 *      120     8  __u64 sig_data             (VER7 = 128)
 *
 * Counting needs nothing past `flags`; the struct is passed at VER7 size with the tail zeroed. A kernel
 * with a smaller struct accepts a bigger size as long as the bytes it does not know are zero, so this
 * works on every kernel since 3.x.
 */

export const PERF_ATTR_SIZE_VER0 = 64;
export const PERF_ATTR_SIZE_VER7 = 128;
export const PERF_ATTR_SIZE = PERF_ATTR_SIZE_VER7;

export const PerfType = {
  HARDWARE: 0,
  SOFTWARE: 1,
  TRACEPOINT: 2,
  HW_CACHE: 3,
  RAW: 4,
  BREAKPOINT: 5,
} as const;
export type PerfTypeId = (typeof PerfType)[keyof typeof PerfType];

/** read_format bits */
export const PerfFormat = {
  TOTAL_TIME_ENABLED: 1n << 0n,
  TOTAL_TIME_RUNNING: 1n << 1n,
  ID: 1n << 2n,
  GROUP: 1n << 3n,
  LOST: 1n << 4n,
} as const;

/** bit positions within the `flags` word (offset 40) */
export const FLAG_BITS = {
  disabled: 0,
  inherit: 1,
  pinned: 2,
  exclusive: 3,
  excludeUser: 4,
  excludeKernel: 5,
  excludeHv: 6,
  excludeIdle: 7,
  inheritStat: 11,
  enableOnExec: 12,
  /** Linux 5.13+: with inherit, only threads (CLONE_THREAD) inherit the counter, forked children do not */
  inheritThread: 35,
} as const;
export type AttrFlag = keyof typeof FLAG_BITS;

export interface PerfEventAttr {
  type: number;
  config: bigint;
  readFormat: bigint;
  flags: Partial<Record<AttrFlag, boolean>>;
}

export const OFFSETS = {
  type: 0,
  size: 4,
  config: 8,
  samplePeriod: 16,
  sampleType: 24,
  readFormat: 32,
  flags: 40,
} as const;

export function flagWord(flags: PerfEventAttr['flags']): bigint {
  let word = 0n;
  for (const [name, bit] of Object.entries(FLAG_BITS) as Array<[AttrFlag, number]>) {
    if (flags[name]) word |= 1n << BigInt(bit);
  }
  return word;
}

/** A fresh PERF_ATTR_SIZE-byte buffer holding the struct (the kernel may write `size` back on E2BIG). */
export function encodeAttr(attr: PerfEventAttr): Buffer {
  const buf = Buffer.alloc(PERF_ATTR_SIZE);
  buf.writeUInt32LE(attr.type, OFFSETS.type);
  buf.writeUInt32LE(PERF_ATTR_SIZE, OFFSETS.size);
  buf.writeBigUInt64LE(attr.config, OFFSETS.config);
  buf.writeBigUInt64LE(attr.readFormat, OFFSETS.readFormat);
  buf.writeBigUInt64LE(flagWord(attr.flags), OFFSETS.flags);
  return buf;
}

/** What read(2) returns for a single counter opened with TOTAL_TIME_ENABLED | TOTAL_TIME_RUNNING (no GROUP, no ID). */
export const COUNTING_READ_FORMAT = PerfFormat.TOTAL_TIME_ENABLED | PerfFormat.TOTAL_TIME_RUNNING;
export const COUNTING_READ_SIZE = 24;

/** struct read_format { u64 value; u64 time_enabled; u64 time_running; } */
export interface CounterReading {
  value: bigint;
  /** ns the counter was enabled (for a task counter: while its task ran) */
  enabled: bigint;
  /** ns it was actually on the PMU; less than `enabled` when the PMU multiplexes */
  running: bigint;
}

export function decodeReading(buf: Buffer): CounterReading {
  return { value: buf.readBigUInt64LE(0), enabled: buf.readBigUInt64LE(8), running: buf.readBigUInt64LE(16) };
}
