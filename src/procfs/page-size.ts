import { readFileSync } from 'node:fs';

/*
 * /proc/self/smaps, per mapping:
 *   KernelPageSize:        4 kB
 * Node has no sysconf(_SC_PAGESIZE); the first mapping's page size is the base page size
 * (4 KiB on x86_64, 4/16/64 KiB on arm64), which converts stat's rss pages to bytes.
 */
export function parseKernelPageSize(smaps: string): number | undefined {
  const m = /^KernelPageSize:\s+(\d{1,9}) kB/m.exec(smaps);
  const bytes = m ? Number(m[1]) * 1024 : 0;
  return bytes > 0 ? bytes : undefined;
}

export function basePageSize(): number {
  try {
    return parseKernelPageSize(readFileSync('/proc/self/smaps', 'utf8')) ?? 4096;
  } catch {
    return 4096;
  }
}
