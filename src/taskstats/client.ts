/**
 * The kernel's task accounting over generic netlink (Documentation/accounting/taskstats.rst):
 * family lookup by name, batched TASKSTATS_CMD_GET queries, and reading TASKSTATS_CMD_NEW replies
 * (the same message shape as the exit records a TASKSTATS_CMD_ATTR_REGISTER_CPUMASK listener gets).
 *
 * A reply (or exit record) is a generic netlink message of the TASKSTATS family, cmd TASKSTATS_CMD_NEW:
 *
 *   [TASKSTATS_TYPE_NULL]                    padding, only on 64-bit arches without unaligned access
 *   TASKSTATS_TYPE_AGGR_PID | AGGR_TGID      nested
 *     TASKSTATS_TYPE_PID | TASKSTATS_TYPE_TGID   u32
 *     TASKSTATS_TYPE_STATS                       struct taskstats (taskstats-struct.ts)
 *   [TASKSTATS_TYPE_AGGR_TGID ...]           exit records of a thread group's last task carry both
 *
 * Requests need CAP_NET_ADMIN (the GET operation is GENL_ADMIN_PERM: EPERM without it) and the
 * family exists only in the initial network namespace (ENOENT elsewhere): the caller then reads /proc.
 * A request for a task that has exited is answered ESRCH.
 */
import { NetlinkError, NetlinkSocket, errnoName, netlinkError } from './netlink-socket.js';
import {
  CTRL_ATTR_FAMILY_ID,
  CTRL_ATTR_FAMILY_NAME,
  CTRL_ATTR_MAXATTR,
  CTRL_ATTR_VERSION,
  CTRL_CMD_GETFAMILY,
  GENL_ID_CTRL,
  NLMSG_ERROR,
  U32_REQUEST_SIZE,
  attrData,
  attrLength,
  attrType,
  errorCode,
  errorSeq,
  findAttr,
  genlAttrs,
  msgLength,
  msgSeq,
  msgType,
  nextAttr,
  putStringRequest,
  putU32Request,
  type GenlRequest,
} from './genetlink.js';
import { TASKSTATS_MIN_SIZE } from './taskstats-struct.js';

export const TASKSTATS_GENL_NAME = 'TASKSTATS';
export const TASKSTATS_GENL_VERSION = 1;

export const TASKSTATS_CMD_GET = 1;
export const TASKSTATS_CMD_NEW = 2;

export const TASKSTATS_TYPE_PID = 1;
export const TASKSTATS_TYPE_TGID = 2;
export const TASKSTATS_TYPE_STATS = 3;
export const TASKSTATS_TYPE_AGGR_PID = 4;
export const TASKSTATS_TYPE_AGGR_TGID = 5;
export const TASKSTATS_TYPE_NULL = 6;

export const TASKSTATS_CMD_ATTR_PID = 1;
export const TASKSTATS_CMD_ATTR_TGID = 2;
export const TASKSTATS_CMD_ATTR_REGISTER_CPUMASK = 3;
export const TASKSTATS_CMD_ATTR_DEREGISTER_CPUMASK = 4;

/** What a query asks for: one task (a thread id) or a whole thread group (a process id). */
export const Target = { THREAD: TASKSTATS_CMD_ATTR_PID, PROCESS: TASKSTATS_CMD_ATTR_TGID } as const;
export type TargetKind = (typeof Target)[keyof typeof Target];

export interface GenlFamily {
  id: number;
  name: string;
  version: number;
  maxAttr: number;
}

/** Receives the aggregates of one TASKSTATS_CMD_NEW message. */
export interface AggregateVisitor {
  /**
   * `kind` is TASKSTATS_TYPE_PID or TASKSTATS_TYPE_TGID, `id` the task or thread group id; the
   * struct taskstats is `size` bytes at `buf[offset]` (decode it with decodeTaskstats).
   */
  aggregate(kind: number, id: number, buf: Buffer, offset: number, size: number): void;
}

/**
 * Walks the aggregates of the TASKSTATS_CMD_NEW message at `off`. Throws a RangeError when an
 * aggregate lacks its id or stats (not a taskstats message).
 */
export function readAggregates(buf: Buffer, off: number, visitor: AggregateVisitor): void {
  const end = off + msgLength(buf, off);
  for (let a = genlAttrs(off); a + 4 <= end; a = nextAttr(buf, a, end)) {
    const type = attrType(buf, a);
    if (type !== TASKSTATS_TYPE_AGGR_PID && type !== TASKSTATS_TYPE_AGGR_TGID) continue;
    const inner = attrData(a);
    const innerEnd = inner + attrLength(buf, a);
    const idKind = type === TASKSTATS_TYPE_AGGR_PID ? TASKSTATS_TYPE_PID : TASKSTATS_TYPE_TGID;
    const idAttr = findAttr(buf, inner, innerEnd, idKind);
    const statsAttr = findAttr(buf, inner, innerEnd, TASKSTATS_TYPE_STATS);
    if (idAttr < 0 || statsAttr < 0) throw new RangeError(`taskstats aggregate at ${a} without id or stats`);
    visitor.aggregate(idKind, buf.readUInt32LE(attrData(idAttr)), buf, attrData(statsAttr), attrLength(buf, statsAttr));
  }
}

/** A reusable list of queries: fill with add(), run with TaskstatsClient.query(), clear() for the next cycle. */
export class TaskstatsQueries {
  count = 0;
  kinds = new Uint8Array(256);
  ids = new Uint32Array(256);

  /** Adds a query; returns its index, which the handler receives. */
  add(kind: TargetKind, id: number): number {
    if (this.count === this.ids.length) {
      const kinds = new Uint8Array(this.count * 2);
      kinds.set(this.kinds);
      const ids = new Uint32Array(this.count * 2);
      ids.set(this.ids);
      this.kinds = kinds;
      this.ids = ids;
    }
    this.kinds[this.count] = kind;
    this.ids[this.count] = id;
    return this.count++;
  }

  clear(): void {
    this.count = 0;
  }
}

export interface TaskstatsHandler {
  /**
   * The answer to query `index`: a struct taskstats of `size` bytes (at least TASKSTATS_MIN_SIZE)
   * at `raw[offset]`, valid only during the call. Decode what you need: decodeTaskstats for all
   * of it, readU64 and TASKSTATS_FIELDS for a few fields.
   */
  stats(index: number, raw: Buffer, offset: number, size: number): void;
  /** Query `index` was answered ESRCH: the task exited. */
  gone(index: number): void;
}

/** System calls and outcomes of one query run, for the self metrics and the benchmark. */
export interface QueryCounts {
  answered: number;
  gone: number;
  sendCalls: number;
  receiveCalls: number;
  /** requests sent again after their replies were dropped (receive buffer overflow) */
  resent: number;
}

export interface TaskstatsClientOptions {
  /** receive buffer to ask for (SO_RCVBUFFORCE); default 4 MiB */
  receiveBufferBytes?: number;
  /** requests per send(); default 256, halved (down to 16) whenever replies are dropped */
  batchSize?: number;
}

const DEFAULT_RCVBUF = 4 * 1024 * 1024;
const DEFAULT_BATCH = 256;
const MIN_BATCH = 16;

/** CLOCK_MONOTONIC in microseconds (the clock of a task's start_time, which ac_etime counts from) */
export function monotonicUs(): number {
  const [s, ns] = process.hrtime();
  return s * 1e6 + Math.floor(ns / 1000);
}

/** Error that the kernel answered to a request (NLMSG_ERROR), as a NetlinkError with a stable code. */
function requestError(errno: number, what: string): NetlinkError {
  return netlinkError('TASKSTATS_CMD_GET', errnoName(errno), what);
}

/** Hands the first aggregate of a reply to the handler, undecoded. */
class ReplySink implements AggregateVisitor {
  index = 0;
  handler: TaskstatsHandler | undefined;
  delivered = false;

  aggregate(_kind: number, _id: number, buf: Buffer, offset: number, size: number): void {
    if (this.delivered || !this.handler) return;
    if (size < TASKSTATS_MIN_SIZE) throw new RangeError(`struct taskstats of ${size} bytes, need at least ${TASKSTATS_MIN_SIZE}`);
    this.delivered = true;
    this.handler.stats(this.index, buf, offset, size);
  }
}

/**
 * One netlink socket talking to the TASKSTATS family. open() looks the family up and asks for the
 * caller's own stats, so an exporter that may not use taskstats learns it there (TASKSTATS_UNAVAILABLE
 * or PERMISSION_DENIED) and never later.
 */
export class TaskstatsClient {
  readonly socket: NetlinkSocket;
  readonly family: GenlFamily;
  private batchSize: number;
  private seq = 1;
  private readonly sendBuf: Buffer;
  private answered = new Uint8Array(256);
  private readonly sink = new ReplySink();
  private readonly batchIdx: Uint32Array;
  private readonly header: GenlRequest;
  /**
   * CLOCK_MONOTONIC (us) just before and just after the send() whose replies are being delivered:
   * the kernel writes each reply within that send, so a reply's ac_etime dates the task's start
   * (start = reply time - ac_etime) to within this window.
   */
  sentBeforeUs = 0;
  sentAfterUs = 0;

  private constructor(socket: NetlinkSocket, family: GenlFamily, batchSize: number) {
    this.socket = socket;
    this.family = family;
    this.batchSize = batchSize;
    this.sendBuf = Buffer.alloc(batchSize * U32_REQUEST_SIZE);
    this.batchIdx = new Uint32Array(batchSize);
    this.header = { family: family.id, cmd: TASKSTATS_CMD_GET, version: TASKSTATS_GENL_VERSION, seq: 0 };
  }

  static open(options: TaskstatsClientOptions = {}): TaskstatsClient {
    const socket = NetlinkSocket.open();
    try {
      socket.setReceiveBuffer(options.receiveBufferBytes ?? DEFAULT_RCVBUF);
      const family = resolveFamily(socket, TASKSTATS_GENL_NAME);
      const client = new TaskstatsClient(socket, family, Math.max(MIN_BATCH, options.batchSize ?? DEFAULT_BATCH));
      client.probe();
      return client;
    } catch (err) {
      socket.close();
      throw err;
    }
  }

  /** Current requests per send() (shrinks after dropped replies). */
  get currentBatchSize(): number {
    return this.batchSize;
  }

  private nextSeq(): number {
    const s = this.seq;
    this.seq = (this.seq + 1) >>> 0 || 1;
    return s;
  }

  /** Asks for our own thread group: fails with PERMISSION_DENIED without CAP_NET_ADMIN. */
  private probe(): void {
    const q = new TaskstatsQueries();
    q.add(Target.PROCESS, process.pid);
    let ok = false;
    this.query(q, {
      stats: () => {
        ok = true;
      },
      gone: () => undefined,
    });
    if (!ok) throw new NetlinkError('TASKSTATS_UNAVAILABLE', 'TASKSTATS_CMD_GET', 'ESRCH', `no answer for our own pid ${process.pid} (another PID namespace?)`);
  }

  /**
   * Runs every query in `q`: up to batchSize requests per send(), replies drained with recvmmsg
   * (up to 64 per call) until all are answered. Replies the kernel dropped for lack of receive buffer
   * (ENOBUFS) are asked again with a halved batch. Errors other than ESRCH throw a NetlinkError
   * (EPERM: PERMISSION_DENIED).
   */
  query(q: TaskstatsQueries, handler: TaskstatsHandler): QueryCounts {
    const counts: QueryCounts = { answered: 0, gone: 0, sendCalls: 0, receiveCalls: 0, resent: 0 };
    if (q.count === 0) return counts;
    if (this.answered.length < q.count) this.answered = new Uint8Array(Math.max(q.count, this.answered.length * 2));
    const answered = this.answered;
    answered.fill(0, 0, q.count);
    let first = 0; // lowest index not answered yet
    while (first < q.count) {
      const seqBase = this.seq;
      // request i of this batch has seq seqBase + i and stands for query index batchIdx[i]
      const batchIdx = this.batchIdx;
      const header = this.header;
      let n = 0;
      let len = 0;
      for (let i = first; i < q.count && n < this.batchSize; i++) {
        if (answered[i]) continue;
        header.seq = this.nextSeq();
        len = putU32Request(this.sendBuf, len, header, q.kinds[i] as number, q.ids[i] as number);
        batchIdx[n++] = i;
      }
      if (n === 0) break;
      this.sentBeforeUs = monotonicUs();
      this.socket.send(this.sendBuf, len);
      this.sentAfterUs = monotonicUs();
      counts.sendCalls++;
      let pending = n;
      let overflowed = false;
      while (pending > 0) {
        let got: number;
        try {
          got = this.socket.receive();
        } catch (err) {
          if (err instanceof NetlinkError && err.errno === 'ENOBUFS') {
            overflowed = true;
            continue;
          }
          throw err;
        }
        counts.receiveCalls++;
        if (got === 0) break; // the rest were dropped: the kernel answers within send()
        this.socket.eachMessage(got, (data, m) => {
          const type = msgType(data, m);
          const seq = type === NLMSG_ERROR ? errorSeq(data, m) : msgSeq(data, m);
          const slot = (seq - seqBase) >>> 0;
          if (slot >= n) return; // a stale reply from an earlier, overflowed batch
          const index = batchIdx[slot] as number;
          if (answered[index]) return;
          if (type === NLMSG_ERROR) {
            const errno = errorCode(data, m);
            if (errno === 0) return; // an ack, not an answer
            if (errnoName(errno) !== 'ESRCH') throw requestError(errno, `${q.kinds[index] === Target.PROCESS ? 'tgid' : 'pid'} ${q.ids[index]}`);
            answered[index] = 1;
            pending--;
            counts.gone++;
            handler.gone(index);
          } else if (type === this.family.id) {
            answered[index] = 1;
            pending--;
            counts.answered++;
            this.deliver(data, m, index, handler);
          }
        });
      }
      if (pending > 0 || overflowed) {
        counts.resent += pending;
        this.batchSize = Math.max(MIN_BATCH, this.batchSize >> 1);
      }
      while (first < q.count && answered[first]) first++;
    }
    return counts;
  }

  private deliver(data: Buffer, m: number, index: number, handler: TaskstatsHandler): void {
    const sink = this.sink;
    sink.index = index;
    sink.handler = handler;
    sink.delivered = false;
    readAggregates(data, m, sink);
    if (!sink.delivered) {
      throw new NetlinkError('NETLINK_FAILED', 'TASKSTATS_CMD_GET', 'EPROTO', `reply without taskstats for query ${index}`);
    }
  }

  close(): void {
    this.socket.close();
  }
}

/**
 * CTRL_CMD_GETFAMILY by name on a generic netlink socket. Throws TASKSTATS_UNAVAILABLE when the
 * kernel has no such family here (ENOENT: not built in, or another network namespace).
 */
export function resolveFamily(socket: NetlinkSocket, name: string): GenlFamily {
  const buf = Buffer.alloc(64 + Buffer.byteLength(name));
  const seq = 0x7fff_0000 + (process.pid & 0xffff);
  const len = putStringRequest(buf, 0, { family: GENL_ID_CTRL, cmd: CTRL_CMD_GETFAMILY, version: 1, seq }, CTRL_ATTR_FAMILY_NAME, name);
  socket.send(buf, len);
  // the controller answers within send(), so the reply is queued by now
  let family: GenlFamily | undefined;
  socket.eachMessage(socket.receive(), (data, m) => {
    const type = msgType(data, m);
    if (type === NLMSG_ERROR) {
      if (errorSeq(data, m) !== seq) return false;
      const errno = errnoName(errorCode(data, m));
      if (errno === 'ENOENT') {
        throw new NetlinkError('TASKSTATS_UNAVAILABLE', 'CTRL_CMD_GETFAMILY', errno, `no generic netlink family ${name} (not in this kernel, or not the host's network namespace)`);
      }
      throw netlinkError('CTRL_CMD_GETFAMILY', errno, name);
    }
    if (type !== GENL_ID_CTRL || msgSeq(data, m) !== seq) return false;
    const attrs = genlAttrs(m);
    const attrsEnd = m + msgLength(data, m);
    const id = findAttr(data, attrs, attrsEnd, CTRL_ATTR_FAMILY_ID);
    if (id < 0) throw new NetlinkError('NETLINK_FAILED', 'CTRL_CMD_GETFAMILY', 'EPROTO', `${name}: reply without a family id`);
    const version = findAttr(data, attrs, attrsEnd, CTRL_ATTR_VERSION);
    const maxAttr = findAttr(data, attrs, attrsEnd, CTRL_ATTR_MAXATTR);
    family = {
      id: data.readUInt16LE(attrData(id)),
      name,
      version: version < 0 ? 0 : data.readUInt32LE(attrData(version)),
      maxAttr: maxAttr < 0 ? 0 : data.readUInt32LE(attrData(maxAttr)),
    };
    return true;
  });
  if (family) return family;
  throw new NetlinkError('NETLINK_FAILED', 'CTRL_CMD_GETFAMILY', 'ETIMEDOUT', `${name}: no reply`);
}
