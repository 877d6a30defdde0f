/**
 * The host layer: the only code that reads the host during a collection cycle. One Host per
 * exporter knows the procfs root, the host root filesystem, the cgroup2 mount and the container
 * resolver; the tracker, the PSI collector and the perf collector ask it for what they need, by
 * identity, and get typed values back. Read failures are counted in `errors` (file, errno) as data;
 * a process that exited reads as undefined and is not an error.
 *
 * The host is asked rather than handing out one big snapshot of every process: a process no group
 * tracks costs one stat read per cycle, and only tracked ones are read further (see the tracker).
 */
import { constants, existsSync, openSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { DEFAULT_KUBELET_CGROUP_ROOT, type KubeletCgroupRoot } from '../cgroup/container-id.js';
import { ContainerNameResolver } from '../cgroup/container-names.js';
import { discoverCgroup2Mount, type Cgroup2Mount } from '../cgroup/mountinfo.js';
import { readPressure, type Pressure } from '../cgroup/pressure.js';
import type { ContainerIdentity } from '../cgroup/types.js';
import { ExporterError } from '../errors.js';
import type { Logger } from '../log.js';
import { UserNames } from '../procfs/passwd.js';
import { type PidCgroup, readPidCgroup } from '../procfs/pid-cgroup.js';
import { type PidLimits, readPidLimits } from '../procfs/pid-limits.js';
import { type PidSmapsRollup, readPidSmapsRollup } from '../procfs/pid-smaps-rollup.js';
import { type PidStat, parsePidStat, readPidStat, TICKS_PER_SECOND } from '../procfs/pid-stat.js';
import { type ProcStat, readProcStat } from '../procfs/proc-stat.js';
import { readPidWchan } from '../procfs/pid-wchan.js';
import { readUptime } from '../procfs/uptime.js';
import { ALL_COUNTERS, type CounterSource, type TaskCounters, type TaskRef } from './counter-source.js';
import { LazyProcessAttributes, type AttributeSources } from './process-attributes.js';
import { ProcfsCounterSource } from './procfs-counters.js';
import { GONE, ProcReader } from './proc-reader.js';
import { ReadErrors } from './read-errors.js';

export interface HostOptions {
  /** procfs mount, e.g. /proc, or /host/proc in a container */
  procfsRoot: string;
  /** host root filesystem mount (node_exporter's --path.rootfs); '/' outside a container */
  rootfs?: string | undefined;
  /** cgroup2 hierarchy directory, skipping discovery */
  cgroup2Root?: string | undefined;
  /** asked first for the counters it covers; the procfs text source reads the rest */
  counterSource?: CounterSource | undefined;
  /** resolve Kubernetes container names from the runtime's files under the rootfs (off: cgroup-path identity only) */
  containerNames?: boolean | undefined;
  /** where the kubelet's kubepods hierarchy lives (-kubelet.cgroup-root); default `/` */
  kubeletCgroupRoot?: KubeletCgroupRoot | undefined;
  /**
   * Files a process is read from every cycle (stat, and status and io when tracked) kept open
   * between cycles, at most this many and half of the open-file limit (default 0: none);
   * see ProcReader.readHeld.
   */
  heldFiles?: number | undefined;
  log?: Logger | undefined;
}

/** The files of one process, paths built once per identity. */
export interface ProcessFiles extends TaskRef {
  readonly statPath: string;
  readonly wchanPath: string;
  readonly fdPath: string;
  readonly taskDir: string;
}

/** One thread of a process: its stat path built once; status and io paths only if asked (thread details). */
export class ThreadFiles implements TaskRef {
  readonly isThread = true;
  private status: string | undefined;
  private io: string | undefined;
  private wchan: string | undefined;
  constructor(
    readonly pid: number,
    readonly tid: number,
    readonly statPath: string,
  ) {}

  get dir(): string {
    return this.statPath.slice(0, -'/stat'.length);
  }

  get statusPath(): string {
    this.status ??= `${this.dir}/status`;
    return this.status;
  }

  get ioPath(): string {
    this.io ??= `${this.dir}/io`;
    return this.io;
  }

  get wchanPath(): string {
    this.wchan ??= `${this.dir}/wchan`;
    return this.wchan;
  }
}

export class Host {
  readonly procfsRoot: string;
  /** the rootfs prefix, or undefined when the exporter runs on the host ('/') */
  readonly rootfs: string | undefined;
  private readonly cgroup2Root: string | undefined;
  private readonly reader: ProcReader;
  private readonly procfsCounters: ProcfsCounterSource;
  private readonly counterSource: CounterSource | undefined;
  private readonly userNames: UserNames;
  private readonly containers: ContainerNameResolver | undefined;
  /** where the kubelet's kubepods hierarchy lives: only pods in it are containers */
  readonly kubeletCgroupRoot: KubeletCgroupRoot;
  private mount: Cgroup2Mount | undefined;
  /** this cycle's read failures; replaced by beginCycle() */
  errors = new ReadErrors();
  private attributeSources: AttributeSources | undefined;
  /** the most files the reader may hold open between cycles */
  private readonly heldFileBudget: number;

  constructor(options: HostOptions) {
    this.heldFileBudget = heldFileBudget(options.heldFiles ?? 0, this.ownSoftOpenFilesLimit());
    this.reader = new ProcReader(options.procfsRoot, { heldFiles: this.heldFileBudget });
    this.procfsRoot = this.reader.root;
    this.rootfs = options.rootfs === undefined || options.rootfs === '/' ? undefined : options.rootfs;
    this.cgroup2Root = options.cgroup2Root || undefined;
    this.procfsCounters = new ProcfsCounterSource(this.reader);
    this.counterSource = options.counterSource;
    this.kubeletCgroupRoot = options.kubeletCgroupRoot ?? DEFAULT_KUBELET_CGROUP_ROOT;
    this.userNames = new UserNames([`${this.procfsRoot}/1/root/etc/passwd`, '/etc/passwd']);
    if (options.containerNames !== false) {
      const log = options.log;
      this.containers = new ContainerNameResolver({
        // container runtime files sit under the host root (--path.rootfs=/host in a DaemonSet)
        hostRoot: options.rootfs ?? '/',
        kubeletCgroupRoot: this.kubeletCgroupRoot,
        onError: (err) => log?.warn('cannot read container names', { err: err.message }),
        onUnnamed: (c, tried) =>
          log?.warn('no source names this container: named by its short ID', { container: c.container, container_id: c.containerId, pod_uid: c.podUid, looked_for: tried.join(',') }),
      });
    }
  }

  /** Starts a cycle: fresh error counts, the host's /proc/stat (throws when unreadable: nothing works without it). */
  beginCycle(): ProcStat {
    this.errors = new ReadErrors();
    this.reader.releaseUnused();
    const host = readProcStat(this.reader);
    if (this.attributeSources?.bootTime !== host.bootTime) {
      this.attributeSources = {
        reader: this.reader,
        userNames: this.userNames,
        bootTime: host.bootTime,
        ticksPerSecond: TICKS_PER_SECOND,
        resolveContainer: this.containers ? this.resolveContainer : undefined,
      };
    }
    return host;
  }

  // ---- processes and threads (the tracker) ----

  /** pids under the procfs root, listed off the event loop */
  listPids(): Promise<number[]> {
    return this.reader.listIdsAsync(this.procfsRoot);
  }

  statPath(pid: number): string {
    return `${this.procfsRoot}/${pid}/stat`;
  }

  process(pid: number): ProcessFiles {
    const dir = `${this.procfsRoot}/${pid}`;
    return { pid, tid: pid, isThread: false, dir, statPath: `${dir}/stat`, statusPath: `${dir}/status`, ioPath: `${dir}/io`, wchanPath: `${dir}/wchan`, fdPath: `${dir}/fd`, taskDir: `${dir}/task` };
  }

  thread(pid: number, tid: number): ThreadFiles {
    // join() gives a flat string; a template literal leaves a cons string behind once flattened
    return new ThreadFiles(pid, tid, [this.procfsRoot, '/', pid, '/task/', tid, '/stat'].join(''));
  }

  /** A process's or thread's stat parsed into `into`; undefined when gone or unreadable (counted). */
  readStat(statPath: string, into?: PidStat): PidStat | undefined {
    try {
      return readPidStat(this.reader, statPath, into);
    } catch (err) {
      if (!this.errors.count('procRead', 'stat', err)) throw err;
      return undefined;
    }
  }

  /**
   * A thread's stat fields into `into`: from the counter source when it has them (no file read;
   * state is then ''), else from `task/<tid>/stat`. Undefined when gone or unreadable (counted).
   */
  readThreadStat(thread: ThreadFiles, into: PidStat): PidStat | undefined {
    const source = this.counterSource;
    if (source?.readStat) {
      const stat = source.readStat(thread, into, this.partialFailure);
      if (stat !== null) return stat;
    }
    return this.readStat(thread.statPath, into);
  }

  /** readStat of a process's <pid>/stat, read every cycle: through a held file while the budget allows. */
  readProcessStat(statPath: string, into: PidStat): PidStat | undefined {
    try {
      const n = this.reader.readHeld(statPath);
      return n === GONE ? undefined : parsePidStat(this.reader.bytes, n, statPath, into);
    } catch (err) {
      if (!this.errors.count('procRead', 'stat', err)) throw err;
      return undefined;
    }
  }

  /** files held open between cycles (ProcReader.readHeld) */
  get heldFiles(): number {
    return this.reader.heldCount;
  }

  /** Closes the files held open between cycles. */
  close(): void {
    this.reader.close();
  }

  /** Fills `into` with the counters in `want` (COUNTERS mask); returns the mask of what was read. */
  readCounters(task: TaskRef, want: number, into: TaskCounters): number {
    let filled = 0;
    const primary = this.counterSource;
    if (primary && (want & primary.covers) !== 0) filled = primary.read(task, want & primary.covers, into, this.partialFailure);
    // what the primary source did not fill (not covered, or not for this kind of task) comes from the text files
    const rest = want & ~filled & ALL_COUNTERS;
    if (rest !== 0) filled |= this.procfsCounters.read(task, rest, into, this.partialFailure);
    return filled;
  }

  /** The kernel function a process or thread waits in ("" for none); undefined when gone or unreadable (counted). */
  readWchan(task: ProcessFiles | ThreadFiles): string | undefined {
    try {
      return readPidWchan(this.reader, task.wchanPath);
    } catch (err) {
      this.partialFailure(task.isThread ? 'task_wchan' : 'wchan', err);
      return undefined;
    }
  }

  /**
   * Now, as clock ticks since boot: the clock and unit of a task's starttime, so "started after
   * this moment" is one comparison. From <procfs>/uptime; a copied tree without it falls back to
   * the wall clock minus its btime.
   */
  ticksSinceBoot(host: ProcStat): number {
    let seconds: number | undefined;
    try {
      seconds = readUptime(this.reader);
    } catch (err) {
      this.partialFailure('uptime', err);
    }
    return Math.floor((seconds ?? Date.now() / 1000 - host.bootTime) * TICKS_PER_SECOND);
  }

  /**
   * Lets the counter source ask for all of this cycle's tasks at once (taskstats batches them);
   * call before the readCounters() of those tasks. A failure is counted and the reads fall back.
   */
  /** whether the counter source fills every kind of `kinds` (a COUNTERS mask) */
  sourceCovers(kinds: number): boolean {
    return this.counterSource !== undefined && (this.counterSource.covers & kinds) === kinds;
  }

  /** whether the counter source batches (prefetchCounters does something) */
  get prefetches(): boolean {
    return this.counterSource?.prefetch !== undefined;
  }

  prefetchCounters(tasks: readonly TaskRef[], want: number): void {
    const source = this.counterSource;
    if (!source?.prefetch || (want & source.covers) === 0) return;
    try {
      source.prefetch(tasks, want & source.covers);
    } catch (err) {
      this.partialFailure(source.name, err);
    }
  }

  /** open fds, -1 when unknown */
  countFds(p: ProcessFiles): number {
    try {
      const n = this.reader.countFds(p.fdPath);
      return n === GONE ? -1 : n;
    } catch (err) {
      this.partialFailure('fd', err);
      return -1;
    }
  }

  readLimits(p: ProcessFiles): PidLimits | undefined {
    try {
      return readPidLimits(this.reader, `${p.dir}/limits`);
    } catch (err) {
      this.partialFailure('limits', err);
      return undefined;
    }
  }

  readSmapsRollup(p: ProcessFiles): PidSmapsRollup | undefined {
    try {
      return readPidSmapsRollup(this.reader, `${p.dir}/smaps_rollup`);
    } catch (err) {
      this.partialFailure('smaps_rollup', err);
      return undefined;
    }
  }

  /** thread ids of a process; undefined when the list could not be read (counted) */
  listThreads(p: ProcessFiles): number[] | undefined {
    try {
      return this.reader.listIds(p.taskDir);
    } catch (err) {
      this.partialFailure('task', err);
      return undefined;
    }
  }

  /** Static facts of a process (cmdline, user, cgroup, container), each read on first use and kept. */
  attributes(stat: PidStat): LazyProcessAttributes {
    if (!this.attributeSources) throw new Error('Host.attributes() before beginCycle()');
    return new LazyProcessAttributes(stat, this.attributeSources);
  }

  /** the user name of a uid, from the host's passwd (empty when unknown) */
  userName(uid: number): string {
    return this.userNames.name(uid);
  }

  /** The process's cgroup v2 path as of now (it can be moved); undefined when gone or unreadable (counted). */
  readCgroupPath(p: ProcessFiles): string | undefined {
    try {
      return readPidCgroup(this.reader, `${p.dir}/cgroup`)?.v2Path;
    } catch (err) {
      this.partialFailure('cgroup', err);
      return undefined;
    }
  }

  /** Records a failed read of an optional file (the process is still counted). */
  readonly partialFailure = (file: string, err: unknown): void => {
    if (!this.errors.count('partial', file, err)) throw err;
  };

  // ---- cgroups and containers (PSI, perf) ----

  readonly resolveContainer = (cgroupPath: string): ContainerIdentity | undefined => this.containers?.resolve(cgroupPath);

  /**
   * The cgroup2 hierarchy, discovered from mountinfo once (or the configured root). Throws
   * ExporterError CGROUP2_UNAVAILABLE, with the fix in its message, when there is none usable;
   * a failure is not cached (the next call looks again).
   */
  cgroup2Mount(): Cgroup2Mount {
    if (this.mount) return this.mount;
    let mount: Cgroup2Mount | undefined;
    try {
      mount = discoverCgroup2Mount(this.reader, { rootfs: this.rootfs, cgroup2Root: this.cgroup2Root });
    } catch (err) {
      throw new ExporterError('CGROUP2_UNAVAILABLE', `cannot find the cgroup2 mount: ${(err as Error).message}`, { cause: err });
    }
    if (!mount) {
      const table = path.join(this.procfsRoot, this.rootfs !== undefined ? '1' : 'self', 'mountinfo');
      throw new ExporterError('CGROUP2_UNAVAILABLE',
        `no cgroup2 filesystem in ${table} (cgroup v1 only host): per-group pressure needs cgroup v2 ` +
        '(boot with systemd.unified_cgroup_hierarchy=1, or mount cgroup2), or pass the cgroup2 root explicitly');
    }
    // a wrong rootfs or cgroup2 root would otherwise look like every cgroup vanished
    if (!existsSync(path.join(mount.directory, 'cgroup.controllers'))) {
      throw new ExporterError('CGROUP2_UNAVAILABLE',
        `${mount.directory} (from ${mount.origin}) is not a cgroup2 directory: check the rootfs path and the cgroup2 root`);
    }
    this.mount = mount;
    return mount;
  }

  /** <procfs>/pressure/<resource> */
  hostPressurePath(resource: string): string {
    return `${this.procfsRoot}/pressure/${resource}`;
  }

  /** A pressure file (the host's or a cgroup's); undefined when it is missing. Throws ProcReadError/ParseError (the PSI collector classifies them). */
  readPressure(file: string): Pressure | undefined {
    return readPressure(this.reader, file);
  }

  /** /proc/<pid>/cgroup now (a process can be moved); undefined when the process exited. Throws ProcReadError/ParseError. */
  pidCgroup(pid: number): PidCgroup | undefined {
    return readPidCgroup(this.reader, `${this.procfsRoot}/${pid}/cgroup`);
  }

  // ---- tasks for perf counters ----

  /** start time and parent of a live process, for perf to tell a reused pid */
  taskIdentity(pid: number): { startTime: number; ppid: number } | undefined {
    const stat = readPidStat(this.reader, this.statPath(pid));
    return stat ? { startTime: stat.startTime, ppid: stat.ppid } : undefined;
  }

  /** thread ids of a process; [] when gone */
  taskThreads(pid: number): number[] {
    return this.reader.listIds(`${this.procfsRoot}/${pid}/task`);
  }

  /** children of one thread (<pid>/task/<tid>/children); [] when gone or the kernel lacks the file */
  taskChildren(pid: number, tid: number): number[] {
    const text = this.reader.readText(`${this.procfsRoot}/${pid}/task/${tid}/children`);
    const out: number[] = [];
    if (!text) return out;
    for (const word of text.split(' ')) {
      const child = Number(word);
      if (word !== '' && Number.isInteger(child)) out.push(child);
    }
    return out;
  }

  /** whether this kernel has <pid>/task/<tid>/children (CONFIG_PROC_CHILDREN), asked of the exporter's own /proc */
  ownChildrenFileExists(): boolean {
    return existsSync(`/proc/self/task/${process.pid}/children`);
  }

  /**
   * The exporter's own soft RLIMIT_NOFILE less the files the host may hold open between cycles:
   * what is left for perf counters and everything else.
   */
  ownOpenFilesLimit(): number {
    return this.ownSoftOpenFilesLimit() - this.heldFileBudget;
  }

  /** /proc/self of the procfs the exporter runs in, not of the host's procfs mount */
  private ownSoftOpenFilesLimit(): number {
    try {
      return readPidLimits(new ProcReader('/proc'), '/proc/self/limits')?.openFilesSoft ?? Infinity;
    } catch {
      return Infinity;
    }
  }

  /** an fd of a cgroup's directory, for perf's cgroup counters (the caller closes it); throws ENOENT when gone */
  openCgroupDirectory(directory: string): number {
    return openSync(directory, constants.O_RDONLY | constants.O_DIRECTORY);
  }

  /** kernel.perf_event_paranoid, for the message when perf_event_open is refused */
  perfEventParanoid(): string {
    try {
      return readFileSync('/proc/sys/kernel/perf_event_paranoid', 'utf8').trim();
    } catch {
      return 'unknown';
    }
  }

  /** the pid of this exporter as the procfs root names it (differs from process.pid outside its PID namespace) */
  selfPid(): string {
    return readlinkSync(path.join(this.procfsRoot, 'self'));
  }
}

/**
 * Held files share the open-file limit with sockets, perf counters and the reads of a cycle: at
 * most half of the soft RLIMIT_NOFILE (Node raises it to the hard limit at start-up); perf's
 * budget is taken from the rest (ownOpenFilesLimit).
 */
function heldFileBudget(wanted: number, softLimit: number): number {
  return wanted > 0 ? Math.max(0, Math.min(wanted, Math.floor(softLimit / 2))) : 0;
}
