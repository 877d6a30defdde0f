/**
 * Reading the files an operator names (config, web config, certificates, keys): regular files
 * only, up to a size cap, so `-config.path /dev/zero`, a FIFO or a huge file is a clear error
 * instead of a hang or unbounded memory; and a cheap identity (device, inode, size, mtime, ctime)
 * to re-read a file only when it changed.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync, type BigIntStats, type Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { errnoOf, ExporterError } from './errors.js';

export class FileRefusedError extends ExporterError {
  readonly file: string;
  constructor(file: string, reason: string, options?: { cause?: unknown }) {
    super('FILE_REFUSED', reason, options);
    this.file = file;
  }
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

const size = (n: number) => (n >= 1 << 20 ? `${n / (1 << 20)} MiB` : `${n / 1024} KiB`);

/** Opened non-blocking: a FIFO cannot hang the open; no controlling terminal from a tty. */
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

/** The buffer to read a file of this fstat into, after checking it is a regular file within the cap. */
function bufferFor(file: string, st: Stats, maxBytes: number): Buffer {
  if (!st.isFile()) throw new FileRefusedError(file, `${kindOf(st)}, not a regular file`);
  if (st.size > maxBytes) throw new FileRefusedError(file, `larger than ${size(maxBytes)} (${st.size} bytes)`);
  // one byte more than allowed: a file growing while read is caught too
  return Buffer.allocUnsafe(Math.min(st.size, maxBytes) + 1);
}

/** Checks a read's progress: the buffer filled up means the file grew (or changed) while read. */
function filled(file: string, n: number, buf: Buffer, maxBytes: number): void {
  if (n === buf.length) throw new FileRefusedError(file, n > maxBytes ? `larger than ${size(maxBytes)} (it grew while read)` : 'changed while read');
}

const refused = (file: string, err: unknown) => (err instanceof FileRefusedError ? err : new FileRefusedError(file, errnoOf(err), { cause: err }));

/**
 * The content of a regular file of at most `maxBytes`. Opened non-blocking (a FIFO cannot hang
 * the open), checked with fstat on the open descriptor (no swap between check and read).
 * Throws FileRefusedError whose message is the reason ("ENOENT", "a FIFO, not a regular file",
 * "larger than 256 KiB (...)"). For start-up; readRegularFile() once the server runs.
 */
export function readRegularFileSync(file: string, maxBytes: number): Buffer {
  let fd: number;
  try {
    fd = openSync(file, OPEN_FLAGS);
  } catch (err) {
    throw refused(file, err);
  }
  try {
    const buf = bufferFor(file, fstatSync(fd), maxBytes);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      filled(file, n, buf, maxBytes);
    }
    return buf.subarray(0, n);
  } catch (err) {
    throw refused(file, err);
  } finally {
    closeSync(fd);
  }
}

/** readRegularFileSync() without blocking the event loop: open, fstat and reads on the thread pool. */
export async function readRegularFile(file: string, maxBytes: number): Promise<Buffer> {
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(file, OPEN_FLAGS);
  } catch (err) {
    throw refused(file, err);
  }
  try {
    const buf = bufferFor(file, await fh.stat(), maxBytes);
    let n = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, n, buf.length - n, null);
      if (bytesRead === 0) break;
      n += bytesRead;
      filled(file, n, buf, maxBytes);
    }
    return buf.subarray(0, n);
  } catch (err) {
    throw refused(file, err);
  } finally {
    await fh.close();
  }
}

/** File timestamps advance in kernel clock ticks: two writes this close may leave the same stamp. */
const RACY_NS = 2_000_000_000n;

/**
 * Identity of a file's content (or its errno), to re-read it only when it changed: device, inode,
 * size, mtime, ctime from one stat. A file modified in the last 2 s is also digested (as git
 * does for "racily clean" files), since two same-size writes within one tick share a stamp.
 */
export async function fileStamp(file: string, maxBytes: number): Promise<string> {
  try {
    const st = await stat(file, { bigint: true });
    const meta = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
    if (!racilyFresh(st) || !st.isFile()) return meta;
    return `${meta}:${createHash('sha256').update(await readRegularFile(file, maxBytes)).digest('base64')}`;
  } catch (err) {
    return err instanceof FileRefusedError ? `${err.message}` : errnoOf(err);
  }
}

const racilyFresh = (st: BigIntStats): boolean => BigInt(Date.now()) * 1_000_000n - (st.mtimeNs > st.ctimeNs ? st.mtimeNs : st.ctimeNs) < RACY_NS;
