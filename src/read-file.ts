/**
 * Reading the files an operator names (config, web config, certificates, keys): regular files
 * only, up to a size cap, so `-config.path /dev/zero`, a FIFO or a huge file is a clear error
 * instead of a hang or unbounded memory; and a cheap identity (device, inode, size, mtime, ctime)
 * to re-read a file only when it changed.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';
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

/**
 * The content of a regular file of at most `maxBytes`. Opened non-blocking (a FIFO cannot hang
 * the open), checked with fstat on the open descriptor (no swap between check and read).
 * Throws FileRefusedError whose message is the reason ("ENOENT", "a FIFO, not a regular file",
 * "larger than 256 KiB (...)").
 */
export function readRegularFileSync(file: string, maxBytes: number): Buffer {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    throw new FileRefusedError(file, errnoOf(err), { cause: err });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new FileRefusedError(file, `${kindOf(st)}, not a regular file`);
    if (st.size > maxBytes) throw new FileRefusedError(file, `larger than ${size(maxBytes)} (${st.size} bytes)`);
    // one byte more than allowed: a file growing while read is caught too
    const buf = Buffer.allocUnsafe(Math.min(st.size, maxBytes) + 1);
    let n = 0;
    for (;;) {
      const got = readSync(fd, buf, n, buf.length - n, null);
      if (got === 0) break;
      n += got;
      if (n === buf.length) throw new FileRefusedError(file, n > maxBytes ? `larger than ${size(maxBytes)} (it grew while read)` : 'changed while read');
    }
    return buf.subarray(0, n);
  } catch (err) {
    if (err instanceof FileRefusedError) throw err;
    throw new FileRefusedError(file, errnoOf(err), { cause: err });
  } finally {
    closeSync(fd);
  }
}

/** File timestamps advance in kernel clock ticks: two writes this close may leave the same stamp. */
const RACY_NS = 2_000_000_000n;

/**
 * Identity of a file's content (or its errno), to re-read it only when it changed: device, inode,
 * size, mtime, ctime from one stat. A file modified in the last 2 s is also digested (as git
 * does for "racily clean" files), since two same-size writes within one tick share a stamp.
 */
export function fileStamp(file: string, maxBytes: number): string {
  try {
    const st = statSync(file, { bigint: true });
    const meta = `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
    const recent = BigInt(Date.now()) * 1_000_000n - (st.mtimeNs > st.ctimeNs ? st.mtimeNs : st.ctimeNs) < RACY_NS;
    if (!recent || !st.isFile()) return meta;
    return `${meta}:${createHash('sha256').update(readRegularFileSync(file, maxBytes)).digest('base64')}`;
  } catch (err) {
    return err instanceof FileRefusedError ? `${err.message}` : errnoOf(err);
  }
}
