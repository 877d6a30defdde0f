import type { FileReader } from '../procfs/file-reader.js';
import { readPidIo } from '../procfs/pid-io.js';
import { readPidStatus } from '../procfs/pid-status.js';
import { COUNTERS, ALL_COUNTERS, type CounterSource, type TaskCounters, type TaskRef } from './counter-source.js';

const STATUS_KINDS = COUNTERS.ctxSwitches | COUNTERS.swap;

/** The text source: `status` for context switches and swap, `io` for I/O bytes. Covers every kind. */
export class ProcfsCounterSource implements CounterSource {
  readonly name = 'procfs';
  readonly covers = ALL_COUNTERS;

  constructor(private readonly reader: FileReader) {}

  read(task: TaskRef, want: number, into: TaskCounters, failed: (file: string, err: unknown) => void): number {
    let filled = 0;
    const thread = task.isThread;
    if ((want & STATUS_KINDS) !== 0) {
      try {
        const status = readPidStatus(this.reader, task.statusPath);
        if (status) {
          into.voluntaryCtxSwitches = status.voluntaryCtxSwitches;
          into.nonvoluntaryCtxSwitches = status.nonvoluntaryCtxSwitches;
          into.swappedBytes = status.vmSwapBytes;
          filled |= want & STATUS_KINDS;
        }
      } catch (err) {
        failed(thread ? 'task_status' : 'status', err);
      }
    }
    if ((want & COUNTERS.io) !== 0) {
      try {
        const io = readPidIo(this.reader, task.ioPath);
        if (io) {
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
