import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { findCgroup2Mount, parseMountInfo } from '../../src/cgroup/mountinfo.js';

/** The cgroup2 mount point the tests may create directories under, or why they cannot. */
export function cgroup2MountPoint(): string | { skip: string } {
  if (process.getuid?.() !== 0) return { skip: 'needs root to create cgroups and move processes' };
  const mount = findCgroup2Mount(parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8'), '/proc/self/mountinfo'));
  if (!mount) return { skip: 'no cgroup2 filesystem mounted (cgroup v1 only)' };
  if (mount.root !== '/') return { skip: `cgroup2 mounted from ${mount.root}, not the hierarchy root` };
  return mount.mountPoint;
}

/**
 * Cgroup directories and processes a test creates, removed and killed by `cleanup()` (processes
 * first, then the directories deepest first), also when the test failed.
 */
export class CgroupSandbox {
  private readonly children: ChildProcess[] = [];
  private readonly created: string[] = [];

  /** mkdir -p of `rel` under `base`, remembering each level it created */
  makeCgroup(base: string, rel: string): string {
    let dir = base;
    for (const part of rel.split('/')) {
      dir = path.join(dir, part);
      try {
        mkdirSync(dir);
        this.created.push(dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    return dir;
  }

  /** a cgroup directory a process of ours created (after its parent), to remove with ours */
  adoptCgroup(dir: string): void {
    this.created.push(dir);
  }

  /** a process of ours, moved into the cgroup directory `dir` */
  startIn(dir: string, command = 'sleep', args: string[] = ['300'], stdio: StdioOptions = 'ignore'): ChildProcess {
    const child = this.adopt(spawn(command, args, { stdio }));
    writeFileSync(path.join(dir, 'cgroup.procs'), String(child.pid));
    return child;
  }

  /** a process to kill at cleanup */
  adopt(child: ChildProcess): ChildProcess {
    this.children.push(child);
    return child;
  }

  async cleanup(): Promise<void> {
    await Promise.all(
      this.children.map((c) => new Promise((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve(null) : (c.once('exit', resolve), c.kill('SIGKILL'))))),
    );
    for (const dir of this.created.reverse()) rmdirSync(dir);
  }
}
