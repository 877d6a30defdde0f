/**
 * struct taskstats (include/uapi/linux/taskstats.h), decoded from the bytes of a TASKSTATS_TYPE_STATS
 * attribute into one reused object: no allocation per reply or per field. The struct is versioned;
 * fields are only ever appended (with 64-bit alignment kept), so a field exists when the attribute is
 * long enough to hold it. Layout (x86_64, arm64 and every other arch alike: the header aligns the
 * 64-bit fields explicitly), checked against the header by a C program in the tests:
 *
 *   offset size field              since v.  meaning (v1 ends at cpu_run_virtual_total)
 *        0    2 version                      1  TASKSTATS_VERSION of the kernel that wrote it
 *        4    4 ac_exitcode                  1  exit status (exit records only)
 *        8    1 ac_flag                      1  AFORK, ASU, ACOMPAT, ACORE, AXSIG, AGROUP (v12)
 *        9    1 ac_nice                      1  task_nice
 *       16    8 cpu_count                    1  delay accounting: times waited for a CPU
 *       24    8 cpu_delay_total              1  ns waited for a CPU while runnable
 *       32    8 blkio_count                  1
 *       40    8 blkio_delay_total            1  ns waited for synchronous block I/O
 *       48    8 swapin_count                 1
 *       56    8 swapin_delay_total           1
 *       64    8 cpu_run_real_total           1  ns on a CPU: utime + stime as accounted (tick-sampled)
 *       72    8 cpu_run_virtual_total        1  ns on a CPU: the scheduler's sum_exec_runtime (exact)
 *       80   32 ac_comm                         command name, NUL padded
 *      112    1 ac_sched                        scheduling discipline
 *      120    4 ac_uid
 *      124    4 ac_gid
 *      128    4 ac_pid                          task id (a thread id for TASKSTATS_CMD_ATTR_PID)
 *      132    4 ac_ppid                         parent's tgid
 *      136    4 ac_btime                        begin time, seconds since the epoch
 *      144    8 ac_etime                        elapsed time, us
 *      152    8 ac_utime                        user CPU time, us (tick-sampled unless VIRT_CPU_ACCOUNTING)
 *      160    8 ac_stime                        system CPU time, us (likewise)
 *      168    8 ac_minflt
 *      176    8 ac_majflt
 *      184    8 coremem                         accumulated RSS, MB-us
 *      192    8 virtmem                         accumulated VM, MB-us
 *      200    8 hiwater_rss                     KB
 *      208    8 hiwater_vm                      KB
 *      216    8 read_char                       bytes read (rchar)
 *      224    8 write_char                      bytes written (wchar)
 *      232    8 read_syscalls                   (syscr)
 *      240    8 write_syscalls                  (syscw)
 *      248    8 read_bytes                      storage I/O read (read_bytes of /proc/<pid>/io)
 *      256    8 write_bytes
 *      264    8 cancelled_write_bytes
 *      272    8 nvcsw                           voluntary context switches
 *      280    8 nivcsw                          involuntary context switches
 *      288    8 ac_utimescaled
 *      296    8 ac_stimescaled
 *      304    8 cpu_scaled_run_real_total
 *      312    8 freepages_count
 *      320    8 freepages_delay_total
 *      328    8 thrashing_count
 *      336    8 thrashing_delay_total
 *      344    8 ac_btime64                  10  64-bit begin time, seconds since the epoch
 *      352    8 compact_count               11
 *      360    8 compact_delay_total         11
 *      368    4 ac_tgid                     12  thread group id
 *      376    8 ac_tgetime                  12  thread group elapsed time, us
 *      384    8 ac_exe_dev                  12  device of the program binary
 *      392    8 ac_exe_inode                12  inode of the program binary
 *      400    8 wpcopy_count                13
 *      408    8 wpcopy_delay_total          13  (sizeof = 416 at version 13; later kernels append)
 *
 * What a reply holds depends on the request (kernel/taskstats.c): TASKSTATS_CMD_ATTR_PID fills every
 * field for one task; TASKSTATS_CMD_ATTR_TGID fills only the delay-accounting fields (cpu_run_*),
 * ac_etime, ac_utime, ac_stime, nvcsw and nivcsw, summed over the live threads plus those that exited.
 * Values are in the host's byte order (little-endian on every platform the socket opens on).
 */

/** Offset and size of every field we read, by its name in linux/taskstats.h. */
export const TASKSTATS_FIELDS = {
  version: [0, 2],
  ac_exitcode: [4, 4],
  ac_flag: [8, 1],
  ac_nice: [9, 1],
  cpu_count: [16, 8],
  cpu_delay_total: [24, 8],
  blkio_count: [32, 8],
  blkio_delay_total: [40, 8],
  swapin_count: [48, 8],
  swapin_delay_total: [56, 8],
  cpu_run_real_total: [64, 8],
  cpu_run_virtual_total: [72, 8],
  ac_comm: [80, 32],
  ac_uid: [120, 4],
  ac_gid: [124, 4],
  ac_pid: [128, 4],
  ac_ppid: [132, 4],
  ac_btime: [136, 4],
  ac_etime: [144, 8],
  ac_utime: [152, 8],
  ac_stime: [160, 8],
  ac_minflt: [168, 8],
  ac_majflt: [176, 8],
  hiwater_rss: [200, 8],
  hiwater_vm: [208, 8],
  read_char: [216, 8],
  write_char: [224, 8],
  read_syscalls: [232, 8],
  write_syscalls: [240, 8],
  read_bytes: [248, 8],
  write_bytes: [256, 8],
  cancelled_write_bytes: [264, 8],
  nvcsw: [272, 8],
  nivcsw: [280, 8],
  freepages_delay_total: [320, 8],
  thrashing_delay_total: [336, 8],
  ac_btime64: [344, 8],
  compact_delay_total: [360, 8],
  ac_tgid: [368, 4],
  ac_tgetime: [376, 8],
  ac_exe_dev: [384, 8],
  ac_exe_inode: [392, 8],
  wpcopy_delay_total: [408, 8],
} as const satisfies Record<string, readonly [number, number]>;

export type TaskstatsField = keyof typeof TASKSTATS_FIELDS;

/** Bytes of struct taskstats at TASKSTATS_VERSION 13, the newest layout we know. */
export const TASKSTATS_V13_SIZE = 416;
/** The smallest struct we accept: everything up to nivcsw. */
export const TASKSTATS_MIN_SIZE = 288;
export const TS_COMM_LEN = 32;

/**
 * One decoded struct taskstats. Counters are JS numbers (exact up to 2^53: 104 days of CPU in ns,
 * 9 PB of I/O). Times keep the kernel's units; the `*Ns`/`*Us` suffix says which.
 */
export class TaskStats {
  version = 0;
  /** bytes the kernel sent; fields past it read as 0 */
  size = 0;
  exitCode = 0;
  flag = 0;
  nice = 0;
  cpuCount = 0;
  cpuDelayNs = 0;
  blkioCount = 0;
  blkioDelayNs = 0;
  swapinCount = 0;
  swapinDelayNs = 0;
  cpuRunRealNs = 0;
  /** exact on-CPU time (sum_exec_runtime); 0 on kernels without CONFIG_TASK_DELAY_ACCT */
  cpuRunVirtualNs = 0;
  uid = 0;
  gid = 0;
  pid = 0;
  ppid = 0;
  btimeS = 0;
  etimeUs = 0;
  utimeUs = 0;
  stimeUs = 0;
  minflt = 0;
  majflt = 0;
  hiwaterRssKb = 0;
  hiwaterVmKb = 0;
  readChar = 0;
  writeChar = 0;
  readSyscalls = 0;
  writeSyscalls = 0;
  readBytes = 0;
  writeBytes = 0;
  cancelledWriteBytes = 0;
  nvcsw = 0;
  nivcsw = 0;
  freepagesDelayNs = 0;
  thrashingDelayNs = 0;
  compactDelayNs = 0;
  wpcopyDelayNs = 0;
  tgid = 0;
  tgEtimeUs = 0;
  exeDev = 0;
  exeInode = 0;
}

const TWO_32 = 0x1_0000_0000;

/** The 64-bit counter at `off` as a number (exact below 2^53). */
export function readU64(buf: Buffer, off: number): number {
  return buf.readUInt32LE(off) + buf.readUInt32LE(off + 4) * TWO_32;
}

/** a 64-bit field at `off` within a struct of `size` bytes starting at `base`, 0 when the struct is older */
function opt64(buf: Buffer, base: number, size: number, off: number): number {
  return off + 8 <= size ? readU64(buf, base + off) : 0;
}

/**
 * Decodes `size` bytes at `base` into `out` (reused by the caller). Throws a RangeError when the
 * attribute is shorter than TASKSTATS_MIN_SIZE: such a kernel predates the fields we need.
 */
export function decodeTaskstats(buf: Buffer, base: number, size: number, out: TaskStats): TaskStats {
  if (size < TASKSTATS_MIN_SIZE) throw new RangeError(`struct taskstats of ${size} bytes, need at least ${TASKSTATS_MIN_SIZE}`);
  out.size = size;
  out.version = buf.readUInt16LE(base);
  out.exitCode = buf.readUInt32LE(base + 4);
  out.flag = buf[base + 8] as number;
  out.nice = buf.readInt8(base + 9);
  out.cpuCount = readU64(buf, base + 16);
  out.cpuDelayNs = readU64(buf, base + 24);
  out.blkioCount = readU64(buf, base + 32);
  out.blkioDelayNs = readU64(buf, base + 40);
  out.swapinCount = readU64(buf, base + 48);
  out.swapinDelayNs = readU64(buf, base + 56);
  out.cpuRunRealNs = readU64(buf, base + 64);
  out.cpuRunVirtualNs = readU64(buf, base + 72);
  out.uid = buf.readUInt32LE(base + 120);
  out.gid = buf.readUInt32LE(base + 124);
  out.pid = buf.readUInt32LE(base + 128);
  out.ppid = buf.readUInt32LE(base + 132);
  out.btimeS = buf.readUInt32LE(base + 136);
  out.etimeUs = readU64(buf, base + 144);
  out.utimeUs = readU64(buf, base + 152);
  out.stimeUs = readU64(buf, base + 160);
  out.minflt = readU64(buf, base + 168);
  out.majflt = readU64(buf, base + 176);
  out.hiwaterRssKb = readU64(buf, base + 200);
  out.hiwaterVmKb = readU64(buf, base + 208);
  out.readChar = readU64(buf, base + 216);
  out.writeChar = readU64(buf, base + 224);
  out.readSyscalls = readU64(buf, base + 232);
  out.writeSyscalls = readU64(buf, base + 240);
  out.readBytes = readU64(buf, base + 248);
  out.writeBytes = readU64(buf, base + 256);
  out.cancelledWriteBytes = readU64(buf, base + 264);
  out.nvcsw = readU64(buf, base + 272);
  out.nivcsw = readU64(buf, base + 280);
  out.freepagesDelayNs = opt64(buf, base, size, 320);
  out.thrashingDelayNs = opt64(buf, base, size, 336);
  const btime64 = opt64(buf, base, size, 344);
  if (btime64 > 0) out.btimeS = btime64;
  out.compactDelayNs = opt64(buf, base, size, 360);
  out.tgid = 372 <= size ? buf.readUInt32LE(base + 368) : 0;
  out.tgEtimeUs = opt64(buf, base, size, 376);
  out.exeDev = opt64(buf, base, size, 384);
  out.exeInode = opt64(buf, base, size, 392);
  out.wpcopyDelayNs = opt64(buf, base, size, 408);
  return out;
}

/** ac_comm of the struct at `base`, up to its first NUL (allocates a string: call only when needed). */
export function decodeComm(buf: Buffer, base: number): string {
  const start = base + 80;
  let end = start;
  while (end < start + TS_COMM_LEN && buf[end] !== 0) end++;
  return buf.toString('utf8', start, end);
}
