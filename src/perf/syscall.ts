/**
 * perf_event_open(2), ioctl(2), read(2) and close(2) through koffi.
 *
 * glibc has no perf_event_open wrapper, so it is called through the variadic `syscall(2)`. The
 * symbols are looked up in the running program (dlopen(NULL)): node links libc dynamically, glibc
 * or musl alike. koffi is loaded on first use only, so an exporter with perf off never loads it.
 * errno is read with koffi.errno() right after each call, before anything else can change it.
 */
import { ExporterError, ProcessGoneError, type ErrorCode } from '../errors.js';
import { loadLibc, type Libc } from '../libc.js';
import { COUNTING_READ_SIZE, decodeReading, type CounterReading } from './attr.js';

/** perf_event_open flags */
export const PerfFlag = {
  FD_NO_GROUP: 1,
  FD_OUTPUT: 2,
  /** `pid` is an fd of a cgroup v2 directory; needs cpu >= 0 */
  PID_CGROUP: 4,
  FD_CLOEXEC: 8,
} as const;

const SYS_PERF_EVENT_OPEN: Partial<Record<NodeJS.Architecture, number>> = {
  x64: 298,
  arm64: 241,
  riscv64: 241,
  loong64: 241,
  ia32: 336,
  arm: 364,
  ppc64: 319,
  s390x: 331,
};

/** _IO('$', nr); powerpc encodes "no data" as direction bit 29 where the others use 0 */
function perfIoctl(nr: number): number {
  const none = process.arch === 'ppc64' || process.arch === 'ppc' ? 0x20000000 : 0;
  return none | (0x24 << 8) | nr;
}
export const PERF_EVENT_IOC_ENABLE = perfIoctl(0);
export const PERF_EVENT_IOC_DISABLE = perfIoctl(1);
export const PERF_EVENT_IOC_RESET = perfIoctl(3);

export type PerfErrorCode = Extract<ErrorCode, 'PERF_EVENT_UNSUPPORTED' | 'PERMISSION_DENIED' | 'PERF_FD_LIMIT' | 'PERF_UNAVAILABLE'>;

/** A perf system call failed; `code` says what it means for the caller, `errno` is the kernel's answer. */
export class PerfError extends ExporterError {
  readonly errno: string;
  readonly syscall: string;
  constructor(code: PerfErrorCode, syscall: string, errno: string, detail: string, options?: { cause?: unknown }) {
    super(code, `${syscall}: ${errno}${detail ? ` (${detail})` : ''}`, options);
    this.errno = errno;
    this.syscall = syscall;
  }
}

const UNSUPPORTED = new Set(['ENOENT', 'EOPNOTSUPP', 'EINVAL', 'E2BIG', 'ENODEV']);
const DENIED = new Set(['EACCES', 'EPERM']);
const FD_LIMIT = new Set(['EMFILE', 'ENFILE']);

/**
 * What a perf_event_open errno means: ENOENT/EOPNOTSUPP/EINVAL/E2BIG/ENODEV the event or an attr bit
 * is not supported here (a VM without a PMU answers ENOENT for hardware events), ESRCH the task is
 * gone (ProcessGoneError), EACCES/EPERM missing privileges, EMFILE/ENFILE no fd left.
 */
export function perfOpenError(errno: string, target: string): ExporterError {
  if (errno === 'ESRCH') return new ProcessGoneError(`perf_event_open(${target})`);
  const code: PerfErrorCode = UNSUPPORTED.has(errno)
    ? 'PERF_EVENT_UNSUPPORTED'
    : DENIED.has(errno)
      ? 'PERMISSION_DENIED'
      : FD_LIMIT.has(errno)
        ? 'PERF_FD_LIMIT'
        : 'PERF_UNAVAILABLE';
  return new PerfError(code, 'perf_event_open', errno, target);
}

interface Bindings {
  lastErrno: () => string;
  nr: number;
  syscall: (nr: number, ...varargs: unknown[]) => number | bigint;
  ioctl: (fd: number, request: number, ...varargs: unknown[]) => number;
  read: (fd: number, buf: Buffer, count: number) => number | bigint;
  close: (fd: number) => number;
}

let bindings: Bindings | undefined;

function bind(): Bindings {
  if (bindings) return bindings;
  const nr = SYS_PERF_EVENT_OPEN[process.arch];
  if (process.platform !== 'linux' || nr === undefined) {
    throw new PerfError('PERF_UNAVAILABLE', 'perf_event_open', 'ENOSYS', `not available on ${process.platform}/${process.arch}`);
  }
  let c: Libc;
  try {
    c = loadLibc();
  } catch (err) {
    throw new PerfError('PERF_UNAVAILABLE', 'load koffi', 'ELIBACC', (err as Error).message, { cause: err });
  }
  const libc = c.lib;
  bindings = {
    lastErrno: c.lastErrno,
    nr,
    syscall: libc.func('long syscall(long number, ...)'),
    ioctl: libc.func('int ioctl(int fd, unsigned long request, ...)'),
    read: libc.func('long read(int fd, void *buf, unsigned long count)'),
    close: libc.func('int close(int fd)'),
  };
  return bindings;
}

function lastErrno(b: Bindings): string {
  return b.lastErrno();
}

/**
 * perf_event_open(attr, pid, cpu, group_fd, flags): pid > 0 counts that one task (a thread id, not a
 * whole process), pid = -1 with cpu >= 0 the whole CPU, PID_CGROUP with pid = a cgroup dir fd the cgroup.
 * FD_CLOEXEC is always added so children the exporter spawns never inherit counters.
 */
export function perfEventOpen(attr: Buffer, pid: number, cpu: number, groupFd: number, flags: number): number {
  const b = bind();
  const fd = Number(b.syscall(b.nr, 'void *', attr, 'long', pid, 'long', cpu, 'long', groupFd, 'unsigned long', flags | PerfFlag.FD_CLOEXEC));
  if (fd < 0) {
    const target = flags & PerfFlag.PID_CGROUP ? `cgroup fd ${pid}, cpu ${cpu}` : `pid ${pid}${cpu >= 0 ? `, cpu ${cpu}` : ''}`;
    throw perfOpenError(lastErrno(b), target);
  }
  return fd;
}

function ioctl(fd: number, request: number, name: string): void {
  const b = bind();
  if (b.ioctl(fd, request, 'unsigned long', 0) < 0) {
    throw new PerfError('PERF_UNAVAILABLE', `ioctl(${name})`, lastErrno(b), `fd ${fd}`);
  }
}

export function enableCounter(fd: number): void {
  ioctl(fd, PERF_EVENT_IOC_ENABLE, 'PERF_EVENT_IOC_ENABLE');
}

export function disableCounter(fd: number): void {
  ioctl(fd, PERF_EVENT_IOC_DISABLE, 'PERF_EVENT_IOC_DISABLE');
}

export function resetCounter(fd: number): void {
  ioctl(fd, PERF_EVENT_IOC_RESET, 'PERF_EVENT_IOC_RESET');
}

/** Reads one counter opened with COUNTING_READ_FORMAT; `scratch` is a reusable buffer of at least 24 bytes. */
export function readCounter(fd: number, scratch: Buffer): CounterReading {
  const b = bind();
  const n = Number(b.read(fd, scratch, COUNTING_READ_SIZE));
  if (n !== COUNTING_READ_SIZE) {
    throw new PerfError('PERF_UNAVAILABLE', 'read', n < 0 ? lastErrno(b) : 'EIO', `fd ${fd}${n >= 0 ? `: ${n} bytes` : ''}`);
  }
  return decodeReading(scratch);
}

export function closeFd(fd: number): void {
  const b = bind();
  if (b.close(fd) < 0) throw new PerfError('PERF_UNAVAILABLE', 'close', lastErrno(b), `fd ${fd}`);
}

/**
 * The calls counting makes: open, read and close a counter. The perf collector and its counter sets
 * take them as an object so the collector's unit test can count without perf_event_open or root.
 */
export interface PerfSyscalls {
  /** perfEventOpen: throws what it throws */
  open(attr: Buffer, pid: number, cpu: number, groupFd: number, flags: number): number;
  read(fd: number, scratch: Buffer): CounterReading;
  close(fd: number): void;
}

export const PERF_SYSCALLS: PerfSyscalls = { open: perfEventOpen, read: readCounter, close: closeFd };
