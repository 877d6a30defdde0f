/**
 * The taskstats exit listener: one generic netlink socket registered with
 * TASKSTATS_CMD_ATTR_REGISTER_CPUMASK for every possible CPU, so the kernel sends it a
 * TASKSTATS_CMD_NEW message for every task that exits (kernel/taskstats.c, taskstats_exit):
 *
 *   AGGR_PID { PID u32, STATS struct taskstats }          every exiting task (thread)
 *   AGGR_TGID { TGID u32, STATS struct taskstats }        also, on the last task of a thread group
 *                                                         that had more than one: only its delay
 *                                                         fields and cpu_run_real_total, summed
 *
 * The socket is drained without blocking (recvmmsg MSG_DONTWAIT) on a timer between cycles and
 * once more when a cycle asks (drain()). Records are decoded at once into the exporter's units.
 *
 * Overflow: when the receive buffer is full the kernel drops the message, counts it in the socket's
 * sk_drops (the Drops column of /proc/self/net/netlink) and makes the next receive fail with
 * ENOBUFS. `lost` is that count (or, if the file cannot be read, one per ENOBUFS), plus records
 * beyond `maxPending`. The tracker's cutime fallback covers the CPU of what was lost.
 */
import { fstatSync, readFileSync } from 'node:fs';
import { netlinkDrops } from '../procfs/net-netlink.js';
import { readAggregates, resolveFamily, TASKSTATS_CMD_ATTR_REGISTER_CPUMASK, TASKSTATS_CMD_GET, TASKSTATS_GENL_NAME, TASKSTATS_GENL_VERSION, TASKSTATS_TYPE_PID, type AggregateVisitor, type GenlFamily } from './client.js';
import type { ExitRecord } from './exit-record.js';
import { errorCode, errorSeq, msgType, NLM_F_ACK, NLM_F_REQUEST, NLMSG_ERROR, putStringRequest, stringRequestSize } from './genetlink.js';
import { errnoName, NetlinkError, NetlinkSocket } from './netlink-socket.js';
import { decodeComm, decodeTaskstats, TaskStats } from './taskstats-struct.js';

/** ac_flag: the task was the last of its thread group (linux/acct.h) */
const AGROUP = 0x20;

/**
 * A record takes about 1.3 KiB of receive buffer (its skb's truesize; measured on 6.18: a 1 MiB
 * request, doubled by the kernel, held 1,615 records). The default 4 MiB (8 MiB granted) holds
 * ~6,400: drained every 100 ms, that is 64,000 exits a second, or a 1 s stall of the event loop
 * at 6,400 a second.
 */
export const DEFAULT_RECEIVE_BUFFER = 4 << 20;
export const DEFAULT_DRAIN_INTERVAL_MS = 100;
/** Records held between two cycles (about 200 bytes each); more are counted as lost. */
export const DEFAULT_MAX_PENDING = 200_000;

export interface ExitListenerOptions {
  /** SO_RCVBUF asked for, bytes (the kernel doubles it) */
  receiveBufferBytes?: number;
  /** drain the socket this often between cycles; 0: only in drain() */
  drainIntervalMs?: number;
  maxPending?: number;
  /** CPUs to listen on, in the kernel's list syntax; default: /sys/devices/system/cpu/possible */
  cpus?: string;
  /** the exporter's own procfs (for the socket's drop count), default /proc/self */
  selfProc?: string;
  /** whether the host keeps block I/O, swap-in and reclaim delays (kernel.task_delayacct), asked at each drain */
  delayAccountingOn?: () => boolean;
}

export class ExitListener {
  private readonly socket: NetlinkSocket;
  private readonly inode: number;
  private readonly selfProc: string;
  private readonly maxPending: number;
  private readonly delayAccountingOn: () => boolean;
  private pending: ExitRecord[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly scratch = new TaskStats();
  private readonly visitor: AggregateVisitor;
  /** the record of this message's task, which its TGID aggregate completes */
  private current: ExitRecord | undefined;
  private overflows = 0;
  private dropsAtOpen: number | undefined;
  private lastDrops = 0;
  private overPending = 0;
  /** records received since open */
  received = 0;
  /** kernel.task_delayacct as of the last drain: block I/O, swap-in and reclaim delays are kept */
  delayAccounting = false;

  private constructor(socket: NetlinkSocket, opts: ExitListenerOptions) {
    this.socket = socket;
    this.selfProc = opts.selfProc ?? '/proc/self';
    this.maxPending = opts.maxPending ?? DEFAULT_MAX_PENDING;
    this.delayAccountingOn = opts.delayAccountingOn ?? (() => false);
    this.inode = fstatSync(socket.fileDescriptor).ino;
    this.dropsAtOpen = this.readDrops();
    this.visitor = { aggregate: (kind, _id, buf, off, size) => this.aggregate(kind, buf, off, size) };
    const interval = opts.drainIntervalMs ?? DEFAULT_DRAIN_INTERVAL_MS;
    if (interval > 0) {
      this.timer = setInterval(() => this.receiveAll(), interval);
      this.timer.unref();
    }
  }

  /**
   * Opens the socket and registers for every CPU's exits. Throws a NetlinkError: PERMISSION_DENIED
   * without CAP_NET_ADMIN, TASKSTATS_UNAVAILABLE without the family (another network namespace).
   */
  static open(opts: ExitListenerOptions = {}): ExitListener {
    const socket = NetlinkSocket.open();
    try {
      socket.setReceiveBuffer(opts.receiveBufferBytes ?? DEFAULT_RECEIVE_BUFFER);
      const family = resolveFamily(socket, TASKSTATS_GENL_NAME);
      register(socket, family, opts.cpus ?? readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim());
      return new ExitListener(socket, opts);
    } catch (err) {
      socket.close();
      throw err;
    }
  }

  /** Records lost to a full receive buffer or beyond the pending bound, since open. */
  get lost(): number {
    const drops = this.dropsAtOpen === undefined ? this.overflows : Math.max(this.lastDrops, this.overflows);
    return drops + this.overPending;
  }

  /** Every record received since the last call (the socket drained first). */
  drain(): ExitRecord[] {
    this.receiveAll();
    const d = this.readDrops();
    if (d !== undefined && this.dropsAtOpen !== undefined) this.lastDrops = d - this.dropsAtOpen;
    this.delayAccounting = this.delayAccountingOn();
    const out = this.pending;
    this.pending = [];
    return out;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.socket.close();
  }

  private readDrops(): number | undefined {
    try {
      return netlinkDrops(readFileSync(`${this.selfProc}/net/netlink`, 'utf8'), this.inode);
    } catch {
      return undefined;
    }
  }

  /** Reads until the socket is empty; never waits. */
  private receiveAll(): void {
    if (this.socket.closed) return;
    for (;;) {
      let got: number;
      try {
        got = this.socket.receive();
      } catch (err) {
        if (err instanceof NetlinkError && err.errno === 'ENOBUFS') {
          this.overflows++;
          continue; // what is still queued stays readable
        }
        throw err;
      }
      if (got === 0) return;
      this.socket.eachMessage(got, this.visitMessage);
    }
  }

  private readonly visitMessage = (data: Buffer, m: number): void => {
    if (msgType(data, m) === NLMSG_ERROR) return; // the registration's ack
    this.current = undefined;
    readAggregates(data, m, this.visitor);
  };

  private aggregate(kind: number, buf: Buffer, off: number, size: number): void {
    const t = decodeTaskstats(buf, off, size, this.scratch);
    if (kind !== TASKSTATS_TYPE_PID) {
      // the thread group's sum: exact CPU of all its threads
      if (this.current) this.current.groupCpuSeconds = cpuSeconds(t);
      return;
    }
    this.received++;
    if (this.pending.length >= this.maxPending) {
      this.overPending++;
      this.current = undefined;
      return;
    }
    const record = toExitRecord(t, decodeComm(buf, off));
    this.current = record;
    this.pending.push(record);
  }
}

/**
 * Exact on-CPU seconds: sum_exec_runtime (cpu_run_virtual_total; cpu_run_real_total is only the
 * tick-sampled utime+stime), else, on a kernel without delay accounting, utime+stime.
 */
function cpuSeconds(t: TaskStats): number {
  return t.cpuRunVirtualNs > 0 ? t.cpuRunVirtualNs / 1e9 : (t.utimeUs + t.stimeUs) / 1e6;
}

export function toExitRecord(t: TaskStats, comm: string): ExitRecord {
  const cpu = cpuSeconds(t);
  // the kernel's own split (cputime_adjust): the exact total in the ratio of the sampled parts
  const sampled = t.utimeUs + t.stimeUs;
  const user = sampled > 0 ? (cpu * t.utimeUs) / sampled : cpu;
  const tgid = t.tgid || t.pid;
  // btime is this task's start; a thread's group started ac_tgetime - ac_etime earlier
  const startSeconds = t.pid === tgid || t.tgEtimeUs === 0 ? t.btimeS : t.btimeS - (t.tgEtimeUs - t.etimeUs) / 1e6;
  return {
    pid: t.pid,
    tgid,
    ppid: t.ppid,
    uid: t.uid,
    comm,
    startSeconds,
    groupDead: (t.flag & AGROUP) !== 0,
    counters: {
      cpuUser: user,
      cpuSystem: cpu - user,
      minorFaults: t.minflt,
      majorFaults: t.majflt,
      readBytes: t.readBytes,
      writeBytes: t.writeBytes,
      voluntaryCtxSwitches: t.nvcsw,
      nonvoluntaryCtxSwitches: t.nivcsw,
    },
    delays: { cpu: t.cpuDelayNs / 1e9, blkio: t.blkioDelayNs / 1e9, swapin: t.swapinDelayNs / 1e9, reclaim: t.freepagesDelayNs / 1e9 },
    groupCpuSeconds: undefined,
  };
}

/** TASKSTATS_CMD_GET with REGISTER_CPUMASK, acknowledged: EPERM without CAP_NET_ADMIN. */
function register(socket: NetlinkSocket, family: GenlFamily, cpus: string): void {
  const seq = 0x7ffe_0000 + (process.pid & 0xffff);
  const buf = Buffer.alloc(stringRequestSize(cpus));
  const len = putStringRequest(buf, 0, { family: family.id, cmd: TASKSTATS_CMD_GET, version: TASKSTATS_GENL_VERSION, seq, flags: NLM_F_REQUEST | NLM_F_ACK }, TASKSTATS_CMD_ATTR_REGISTER_CPUMASK, cpus);
  socket.send(buf, len);
  // the kernel handles the request within send(): its ack is queued by now
  const acked = socket.eachMessage(socket.receive(), (data, m) => {
    if (msgType(data, m) !== NLMSG_ERROR || errorSeq(data, m) !== seq) return false;
    const errno = errorCode(data, m);
    if (errno === 0) return true;
    const name = errnoName(errno);
    throw new NetlinkError(name === 'EPERM' || name === 'EACCES' ? 'PERMISSION_DENIED' : 'NETLINK_FAILED', 'TASKSTATS_CMD_ATTR_REGISTER_CPUMASK', name, `cpus ${cpus}`);
  });
  if (acked) return;
  throw new NetlinkError('NETLINK_FAILED', 'TASKSTATS_CMD_ATTR_REGISTER_CPUMASK', 'EPROTO', 'no acknowledgement');
}
