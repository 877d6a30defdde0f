/**
 * The running program's libc through koffi, shared by the perf and taskstats bindings. Symbols are
 * looked up with dlopen(NULL): node links libc dynamically, glibc or musl alike. koffi is loaded on
 * first use only, so an exporter using neither binding never loads it.
 */
import { createRequire } from 'node:module';

type Koffi = typeof import('koffi').default;

export interface Libc {
  koffi: Koffi;
  lib: ReturnType<Koffi['load']>;
  /** errno name of a number, e.g. 3 -> ESRCH */
  errnoName(n: number): string;
  /** errno name of the last failed call; read it right after the call, before anything else runs */
  lastErrno(): string;
}

let libc: Libc | undefined;

/** Loads koffi and libc once; throws what require('koffi') throws (a platform without its binary). */
export function loadLibc(): Libc {
  if (libc) return libc;
  const koffi = createRequire(import.meta.url)('koffi') as Koffi;
  const names = new Map<number, string>();
  for (const [name, value] of Object.entries(koffi.os.errno)) {
    if (!names.has(value)) names.set(value, name);
  }
  const errnoName = (n: number) => names.get(n) ?? `errno ${n}`;
  libc = { koffi, lib: koffi.load(null), errnoName, lastErrno: () => errnoName(koffi.errno()) };
  return libc;
}
