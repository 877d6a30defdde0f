import { parsePidIo } from '../procfs/pid-io.js';
import { parsePidStatus } from '../procfs/pid-status.js';
import { COUNTERS, ALL_COUNTERS, type CounterSource, type TaskCounters, type TaskRef } from './counter-source.js';
import { GONE, type ProcReader } from './proc-reader.js';

const STATUS_KINDS = COUNTERS.ctxSwitches | COUNTERS.swap;

/**
 * The text source: `status` for context switches and swap, `io` for I/O bytes. Covers every kind.
 * A process's files are read through held fds (read every cycle); a thread's are opened each time
 * (there can be tens of thousands).
 */
export class ProcfsCounterSource implements CounterSource {
  readonly name = 'procfs';
  readonly covers = ALL_COUNTERS;

  constructor(private readonly reader: ProcReader) {}

  private readFile(task: TaskRef, path: string): number {
    return task.isThread ? this.reader.readSingle(path) : this.reader.readHeld(path);
  }

  read(task: TaskRef, want: number, into: TaskCounters, failed: (file: string, err: unknown) => void): number {
    let filled = 0;
    const thread = task.isThread;
    if ((want & STATUS_KINDS) !== 0) {
      try {
        const n = this.readFile(task, task.statusPath);
        if (n !== GONE) {
          const status = parsePidStatus(this.reader.bytes, n);
          // only the kinds asked: another source may have filled the others
          if (want & COUNTERS.ctxSwitches) {
            into.voluntaryCtxSwitches = status.voluntaryCtxSwitches;
            into.nonvoluntaryCtxSwitches = status.nonvoluntaryCtxSwitches;
          }
          if (want & COUNTERS.swap) into.swappedBytes = status.vmSwapBytes;
          filled |= want & STATUS_KINDS;
        }
      } catch (err) {
        failed(thread ? 'task_status' : 'status', err);
      }
    }
    if ((want & COUNTERS.io) !== 0) {
      try {
        const n = this.readFile(task, task.ioPath);
        if (n !== GONE) {
          const io = parsePidIo(this.reader.bytes, n);
          into.readBytes = io.readBytes;
          into.writeBytes = io.writeBytes;
          filled |= COUNTERS.io;
        }
      } catch (err) {
        failed(thread ? 'task_io' : 'io', err);
      }
    }
    return filled;
  }
}
