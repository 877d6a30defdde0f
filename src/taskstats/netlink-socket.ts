/**
 * A netlink socket through koffi: socket(2), bind(2), send(2), recvmmsg(2), setsockopt(2), close(2).
 *
 * Node has no AF_NETLINK sockets, so the libc calls are bound with koffi, looked up in the running
 * program (dlopen(NULL)) as the perf binding does; koffi is loaded on first use only. Received
 * datagrams land in one native region allocated per socket (koffi.alloc, so its address is stable)
 * and are read through a Buffer view of that region: receiving allocates nothing. recvmmsg drains up
 * to SLOTS datagrams per system call, since the kernel queues one datagram per reply.
 *
 * Struct layouts (msghdr, mmsghdr, iovec) are those of 64-bit Linux; the socket refuses to open on
 * 32-bit or big-endian platforms (NetlinkError TASKSTATS_UNAVAILABLE), where callers use /proc.
 */
import { endianness } from 'node:os';
import { ExporterError, type ErrorCode } from '../errors.js';
import { loadLibc, type Libc } from '../libc.js';
import { nextMessage } from './genetlink.js';

type Koffi = typeof import('koffi').default;

export const AF_NETLINK = 16;
export const NETLINK_GENERIC = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const SO_RCVBUFFORCE = 33;
const SOL_NETLINK = 270;
/** errors carry only the failed request's header, not its payload */
const NETLINK_CAP_ACK = 10;
const MSG_DONTWAIT = 0x40;

/** struct msghdr is 56 bytes on 64-bit Linux, struct mmsghdr 64 (msghdr + unsigned msg_len + padding) */
const MMSGHDR_SIZE = 64;
const MSGHDR_IOV = 16;
const MSGHDR_IOVLEN = 24;
const MSGHDR_FLAGS = 48;
const MMSG_LEN = 56;
const IOVEC_SIZE = 16;
const MSG_TRUNC = 0x20;

/** Datagrams one recvmmsg call can return. */
export const SLOTS = 64;
/** Bytes per datagram slot: a taskstats reply is ~600 bytes, an exit record with PID and TGID ~1.2 KiB. */
export const SLOT_SIZE = 8192;

export type NetlinkErrorCode = Extract<ErrorCode, 'TASKSTATS_UNAVAILABLE' | 'PERMISSION_DENIED' | 'NETLINK_FAILED' | 'PROCESS_GONE'>;

/** A netlink call failed, or the kernel answered a request with an error; `errno` is the kernel's answer. */
export class NetlinkError extends ExporterError {
  readonly errno: string;
  readonly syscall: string;
  constructor(code: NetlinkErrorCode, syscall: string, errno: string, detail: string, options?: { cause?: unknown }) {
    super(code, `${syscall}: ${errno}${detail ? ` (${detail})` : ''}`, options);
    this.errno = errno;
    this.syscall = syscall;
  }
}

const DENIED = new Set(['EACCES', 'EPERM']);
const GONE = new Set(['ESRCH']);
/** the protocol or family does not exist here (no CONFIG_TASKSTATS, or another network namespace) */
const ABSENT = new Set(['ENOENT', 'EPROTONOSUPPORT', 'EAFNOSUPPORT', 'ENOSYS', 'EOPNOTSUPP']);

/** What an errno means for a netlink caller: EPERM/EACCES denied, ESRCH task gone, ENOENT & co. absent. */
export function netlinkError(syscall: string, errno: string, detail: string): NetlinkError {
  const code: NetlinkErrorCode = DENIED.has(errno)
    ? 'PERMISSION_DENIED'
    : GONE.has(errno)
      ? 'PROCESS_GONE'
      : ABSENT.has(errno)
        ? 'TASKSTATS_UNAVAILABLE'
        : 'NETLINK_FAILED';
  return new NetlinkError(code, syscall, errno, detail);
}

interface Bindings {
  koffi: Koffi;
  socket: (domain: number, type: number, protocol: number) => number;
  bind: (fd: number, addr: Buffer, len: number) => number;
  send: (fd: number, buf: Buffer, len: number, flags: number) => number | bigint;
  recvmmsg: (fd: number, vec: bigint, vlen: number, flags: number, timeout: null) => number;
  setsockopt: (fd: number, level: number, name: number, value: Buffer, len: number) => number;
  close: (fd: number) => number;
  errnoName: (n: number) => string;
  lastErrno: () => string;
}

let bindings: Bindings | undefined;

function load(): Bindings {
  if (bindings) return bindings;
  if (process.platform !== 'linux') {
    throw new NetlinkError('TASKSTATS_UNAVAILABLE', 'socket', 'ENOSYS', `netlink needs Linux, not ${process.platform}`);
  }
  if (!['x64', 'arm64', 'riscv64', 'loong64', 'ppc64'].includes(process.arch) || endianness() !== 'LE') {
    throw new NetlinkError('TASKSTATS_UNAVAILABLE', 'socket', 'ENOSYS', `netlink binding supports 64-bit little-endian Linux, not ${process.arch}`);
  }
  let c: Libc;
  try {
    c = loadLibc();
  } catch (err) {
    throw new NetlinkError('TASKSTATS_UNAVAILABLE', 'load koffi', 'ELIBACC', (err as Error).message, { cause: err });
  }
  const libc = c.lib;
  bindings = {
    koffi: c.koffi,
    errnoName: c.errnoName,
    lastErrno: c.lastErrno,
    socket: libc.func('int socket(int domain, int type, int protocol)'),
    bind: libc.func('int bind(int fd, const void *addr, uint32_t len)'),
    send: libc.func('long send(int fd, const void *buf, unsigned long len, int flags)'),
    recvmmsg: libc.func('int recvmmsg(int fd, void *msgvec, unsigned int vlen, int flags, void *timeout)'),
    setsockopt: libc.func('int setsockopt(int fd, int level, int name, const void *value, uint32_t len)'),
    close: libc.func('int close(int fd)'),
  };
  return bindings;
}

/** errno name of a number, e.g. 3 -> ESRCH (the kernel's NLMSG_ERROR carries the negated number) */
export function errnoName(n: number): string {
  return load().errnoName(n);
}

function lastErrno(b: Bindings): string {
  return b.lastErrno();
}

/**
 * One bound netlink socket. Not thread-safe, not reentrant: one caller sends and drains at a time.
 * `close()` releases the fd and the receive region.
 */
export class NetlinkSocket {
  private readonly b: Bindings;
  private fd: number;
  private readonly region: bigint;
  /** view of the datagram slots; valid until the next receive */
  readonly data: Buffer;
  private readonly meta: Buffer;
  private readonly metaPtr: bigint;
  private readonly int32 = Buffer.alloc(4);

  private constructor(b: Bindings, fd: number) {
    this.b = b;
    this.fd = fd;
    const dataSize = SLOTS * SLOT_SIZE;
    const metaSize = SLOTS * (MMSGHDR_SIZE + IOVEC_SIZE);
    this.region = b.koffi.alloc('uint8_t', dataSize + metaSize) as bigint;
    const all = Buffer.from(b.koffi.view(this.region, dataSize + metaSize));
    this.data = all.subarray(0, dataSize);
    this.meta = all.subarray(dataSize);
    this.metaPtr = this.region + BigInt(dataSize);
    this.meta.fill(0);
    // mmsghdr[i].msg_hdr.msg_iov -> iovec[i] -> slot i; written once, only msg_len/msg_flags change
    const iovBase = SLOTS * MMSGHDR_SIZE;
    for (let i = 0; i < SLOTS; i++) {
      const h = i * MMSGHDR_SIZE;
      const iov = iovBase + i * IOVEC_SIZE;
      this.meta.writeBigUInt64LE(this.metaPtr + BigInt(iov), h + MSGHDR_IOV);
      this.meta.writeBigUInt64LE(1n, h + MSGHDR_IOVLEN);
      this.meta.writeBigUInt64LE(this.region + BigInt(i * SLOT_SIZE), iov);
      this.meta.writeBigUInt64LE(BigInt(SLOT_SIZE), iov + 8);
    }
  }

  /** socket(AF_NETLINK, SOCK_RAW|SOCK_CLOEXEC, protocol) bound to a kernel-assigned port id. */
  static open(protocol: number = NETLINK_GENERIC): NetlinkSocket {
    const b = load();
    const fd = b.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, protocol);
    if (fd < 0) throw netlinkError('socket(AF_NETLINK)', lastErrno(b), `protocol ${protocol}`);
    const addr = Buffer.alloc(12);
    addr.writeUInt16LE(AF_NETLINK, 0);
    if (b.bind(fd, addr, addr.length) < 0) {
      const errno = lastErrno(b);
      b.close(fd);
      throw netlinkError('bind(AF_NETLINK)', errno, '');
    }
    const sock = new NetlinkSocket(b, fd);
    // best effort: older kernels (< 4.3) lack it and send the request back in full, which still parses
    sock.trySetOption(SOL_NETLINK, NETLINK_CAP_ACK, 1);
    return sock;
  }

  get closed(): boolean {
    return this.fd < 0;
  }

  /** the socket's fd, for fstat (its inode names it in /proc/self/net/netlink); -1 once closed */
  get fileDescriptor(): number {
    return this.fd;
  }

  private trySetOption(level: number, name: number, value: number): boolean {
    this.int32.writeInt32LE(value, 0);
    return this.b.setsockopt(this.fd, level, name, this.int32, 4) === 0;
  }

  /**
   * Sets the receive buffer (the kernel doubles it for bookkeeping). SO_RCVBUFFORCE passes
   * net.core.rmem_max and needs CAP_NET_ADMIN, which a taskstats reader holds anyway; without it
   * SO_RCVBUF is capped at rmem_max. Returns whether the forced size was taken.
   */
  setReceiveBuffer(bytes: number): boolean {
    this.assertOpen();
    if (this.trySetOption(SOL_SOCKET, SO_RCVBUFFORCE, bytes)) return true;
    if (!this.trySetOption(SOL_SOCKET, SO_RCVBUF, bytes)) throw netlinkError('setsockopt(SO_RCVBUF)', lastErrno(this.b), `${bytes} bytes`);
    return false;
  }

  /** Sends `len` bytes of `buf` (one or more netlink messages) in one system call. */
  send(buf: Buffer, len: number): void {
    this.assertOpen();
    const n = Number(this.b.send(this.fd, buf, len, 0));
    if (n < 0) throw netlinkError('send(AF_NETLINK)', lastErrno(this.b), `${len} bytes`);
    if (n !== len) throw new NetlinkError('NETLINK_FAILED', 'send(AF_NETLINK)', 'EIO', `sent ${n} of ${len} bytes`);
  }

  /**
   * Receives up to SLOTS queued datagrams in one recvmmsg(2) without waiting. Returns how many
   * arrived (0 when none is queued); datagram i is `data[i * SLOT_SIZE, + length(i))`. ENOBUFS
   * (replies dropped because the receive buffer overflowed) throws a NetlinkError with errno ENOBUFS;
   * the datagrams still queued stay readable.
   */
  receive(): number {
    this.assertOpen();
    const n = this.b.recvmmsg(this.fd, this.metaPtr, SLOTS, MSG_DONTWAIT, null);
    if (n < 0) {
      const errno = lastErrno(this.b);
      if (errno === 'EAGAIN' || errno === 'EWOULDBLOCK') return 0;
      throw netlinkError('recvmmsg(AF_NETLINK)', errno, '');
    }
    return n;
  }

  /** Bytes in datagram `i` of the last receive(); a datagram longer than SLOT_SIZE throws (MSG_TRUNC). */
  length(i: number): number {
    const h = i * MMSGHDR_SIZE;
    if (this.meta.readInt32LE(h + MSGHDR_FLAGS) & MSG_TRUNC) {
      throw new NetlinkError('NETLINK_FAILED', 'recvmmsg(AF_NETLINK)', 'EMSGSIZE', `datagram longer than ${SLOT_SIZE} bytes`);
    }
    return this.meta.readUInt32LE(h + MMSG_LEN);
  }

  /**
   * Calls `visit(data, offset)` for each netlink message of the `got` datagrams the last receive()
   * returned, in order, until it returns true; returns whether it did. Throws a RangeError on a
   * message that overruns its datagram.
   */
  eachMessage(got: number, visit: (data: Buffer, offset: number) => boolean | void): boolean {
    const data = this.data;
    for (let d = 0; d < got; d++) {
      const base = d * SLOT_SIZE;
      const end = base + this.length(d);
      for (let m = base; m < end; m = nextMessage(data, m, end)) if (visit(data, m) === true) return true;
    }
    return false;
  }

  close(): void {
    if (this.fd < 0) return;
    this.b.close(this.fd);
    this.fd = -1;
    this.b.koffi.free(this.region);
  }

  private assertOpen(): void {
    if (this.fd < 0) throw new NetlinkError('NETLINK_FAILED', 'netlink', 'EBADF', 'socket closed');
  }
}
