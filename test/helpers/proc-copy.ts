import { mkdirSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Files of a process (and of each of its threads under task/) copied when present and readable. */
const PROCESS_FILES = ['stat', 'status', 'io', 'limits', 'cmdline', 'comm', 'cgroup', 'wchan'];
const THREAD_FILES = ['stat', 'status', 'io', 'wchan'];

function copyFiles(from: string, to: string, names: readonly string[]): void {
  mkdirSync(to, { recursive: true });
  for (const name of names) {
    try {
      writeFileSync(join(to, name), readFileSync(join(from, name)));
    } catch {
      // a file this kernel lacks or we may not read is absent from the copy, as it is for the exporter
    }
  }
}

function copyLinks(from: string, to: string): void {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    try {
      symlinkSync(readlinkSync(join(from, name)), join(to, name));
    } catch {
      // closed between the listing and the readlink
    }
  }
}

/**
 * A copy of /proc for `pids` (plus /proc/stat) as plain files and symlinks, the way a support
 * bundle or `cp -r` of /proc looks: directory sizes are the filesystem's (4096), not procfs's.
 */
export function copyProc(pids: readonly number[]): string {
  const root = mkdtempSync(join(tmpdir(), 'proc-copy-'));
  writeFileSync(join(root, 'stat'), readFileSync('/proc/stat'));
  for (const pid of pids) {
    const from = `/proc/${pid}`;
    const to = join(root, String(pid));
    copyFiles(from, to, PROCESS_FILES);
    copyLinks(join(from, 'fd'), join(to, 'fd'));
    try {
      symlinkSync(readlinkSync(join(from, 'exe')), join(to, 'exe'));
    } catch {
      // kernel threads have no exe
    }
    for (const tid of readdirSync(join(from, 'task'))) copyFiles(join(from, 'task', tid), join(to, 'task', tid), THREAD_FILES);
  }
  return root;
}
