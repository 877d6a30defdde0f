import { closeSync, openSync, readSync, readdirSync, statSync, statfsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { ProcReadError, errnoOf, isProcessGone } from '../errors.js';
import { GONE, type FileReader } from '../procfs/file-reader.js';

export { GONE };

const INITIAL_SIZE = 64 * 1024;

/**
 * Reads /proc files into one reused buffer: no per-read allocation, no string decoding.
 * The bytes are valid until the next read. A process that exited reads as GONE (-1), never throws.
 */
export class ProcReader implements FileReader {
  readonly root: string;
  private buf: Buffer = Buffer.allocUnsafe(INITIAL_SIZE);
  /** the size of <pid>/fd is the fd count: a real procfs on Linux 6.2+, not a copied tree */
  private readonly fdSizeIsCount: boolean;

  constructor(root: string) {
    this.root = root.replace(/\/+$/, '') || '/';
    this.fdSizeIsCount = kernelReportsFdCount && isProcfs(this.root);
  }

  get bytes(): Buffer {
    return this.buf;
  }

  /**
   * Reads a single-record /proc file (stat, status, io, cgroup, limits, smaps_rollup). These are
   * produced whole by the kernel's single_open seq_file, so a short read means end of file and
   * one read() suffices; only a full buffer needs another round.
   */
  readSingle(path: string): number {
    return this.read(path, true);
  }

  /** Reads any file to EOF (multi-record files such as mountinfo). */
  readAll(path: string): number {
    return this.read(path, false);
  }

  private read(path: string, shortReadIsEof: boolean): number {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      if (isProcessGone(err)) return GONE;
      throw new ProcReadError(path, errnoOf(err), { cause: err });
    }
    try {
      let len = 0;
      for (;;) {
        if (len === this.buf.length) this.grow();
        const want = this.buf.length - len;
        const n = readSync(fd, this.buf, len, want, null);
        len += n;
        if (n === 0 || (shortReadIsEof && n < want)) return len;
      }
    } catch (err) {
      if (isProcessGone(err)) return GONE;
      throw new ProcReadError(path, errnoOf(err), { cause: err });
    } finally {
      closeSync(fd);
    }
  }

  private grow(): void {
    const bigger = Buffer.allocUnsafe(this.buf.length * 2);
    this.buf.copy(bigger);
    this.buf = bigger;
  }

  /** Decoded text of a whole file, or undefined when the process is gone. For cold paths only. */
  readText(path: string): string | undefined {
    const n = this.readAll(path);
    return n === GONE ? undefined : this.buf.toString('utf8', 0, n);
  }

  /** Numeric directory entries (pids under the root, tids under <pid>/task); [] when gone. */
  listIds(dir: string): number[] {
    let names: string[];
    try {
      names = readdirSync(dir);
    } catch (err) {
      if (isProcessGone(err)) return [];
      throw new ProcReadError(dir, errnoOf(err), { cause: err });
    }
    return numericNames(names);
  }

  /**
   * listIds off the event loop: listing the procfs root costs ~4 us per process in the kernel
   * (7 ms with 1.6k processes), too long to block /health.
   */
  async listIdsAsync(dir: string): Promise<number[]> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (err) {
      if (isProcessGone(err)) return [];
      throw new ProcReadError(dir, errnoOf(err), { cause: err });
    }
    return numericNames(names);
  }

  /**
   * Open file descriptors of a process, given its <procfs>/<pid>/fd. Since Linux 6.2 the size of /proc/<pid>/fd is the
   * number of open fds, so one stat() replaces a readdir; older kernels report 0, and a copied
   * tree (a plain directory, size 4096) is no procfs at all: there we list.
   */
  countFds(dir: string): number {
    try {
      if (this.fdSizeIsCount) {
        // no exception object for a process that just exited (ENOENT), the common failure
        return statSync(dir, NO_THROW_IF_MISSING)?.size ?? GONE;
      }
      return readdirSync(dir).length;
    } catch (err) {
      if (isProcessGone(err)) return GONE;
      throw new ProcReadError(dir, errnoOf(err), { cause: err });
    }
  }
}

function numericNames(names: readonly string[]): number[] {
  const ids: number[] = [];
  for (const name of names) {
    const c = name.charCodeAt(0);
    if (c >= 48 && c <= 57) ids.push(Number(name));
  }
  return ids;
}

const NO_THROW_IF_MISSING = { throwIfNoEntry: false } as const;

/** Whether this kernel reports the fd count as the size of /proc/<pid>/fd (we hold stdio open). */
const kernelReportsFdCount = ((): boolean => {
  try {
    return statSync('/proc/self/fd').size > 0;
  } catch {
    return false;
  }
})();

/** statfs(2) f_type of procfs (linux/magic.h) */
const PROC_SUPER_MAGIC = 0x9fa0;

function isProcfs(root: string): boolean {
  try {
    return statfsSync(root).type === PROC_SUPER_MAGIC;
  } catch {
    // a root that cannot be read fails on its first listing, with the path in the error
    return false;
  }
}
