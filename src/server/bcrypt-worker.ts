/**
 * bcrypt (bcryptjs) on a worker thread. A check costs tens to hundreds of milliseconds of CPU and
 * bcryptjs yields to the event loop only every ~100 ms, so on the main thread a flood of wrong
 * passwords delayed every other request, cached credentials and /health included. One thread, one
 * request at a time (BasicAuth queues them): authentication never takes more than one core.
 *
 * The thread starts on the first call (an exporter without basic auth never starts it), stops
 * after `idleMs` without work or on close(), and keeps the process alive only while a request is
 * outstanding: an idle thread must not keep a stopped server's process running.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { ExporterError } from '../errors.js';

export class BcryptWorkerError extends ExporterError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('BCRYPT_WORKER_FAILED', message, options);
  }
}

// CommonJS evaluated in the thread: bcryptjs and nothing else (no loader hooks, no TypeScript)
const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const bcrypt = require(workerData.bcrypt);
parentPort.on('message', ({ id, op, a, b }) => {
  try {
    parentPort.postMessage({ id, value: op === 'hash' ? bcrypt.hashSync(a, b) : bcrypt.compareSync(a, b) });
  } catch (err) {
    parentPort.postMessage({ id, error: String(err && err.message || err) });
  }
});
`;

interface Reply {
  id: number;
  value?: string | boolean;
  error?: string;
}

interface Waiting {
  resolve: (value: string | boolean) => void;
  reject: (err: Error) => void;
}

export class BcryptWorker {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly waiting = new Map<number, Waiting>();
  private idleTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly idleMs: number;

  constructor(opts: { idleMs?: number } = {}) {
    this.idleMs = opts.idleMs ?? 60_000;
  }

  async compare(password: string, hash: string): Promise<boolean> {
    return (await this.call('compare', password, hash)) as boolean;
  }

  /** a bcrypt hash of `password` at `cost` */
  async hash(password: string, cost: number): Promise<string> {
    return (await this.call('hash', password, cost)) as string;
  }

  /** Whether the thread is running (started and not yet stopped). */
  get running(): boolean {
    return this.worker !== undefined;
  }

  /** Stops the thread; outstanding and later calls reject. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.stop(new BcryptWorkerError('closed'));
    await worker?.terminate();
  }

  private call(op: 'compare' | 'hash', a: string, b: string | number): Promise<string | boolean> {
    if (this.closed) return Promise.reject(new BcryptWorkerError('closed'));
    const worker = this.worker ?? this.start();
    clearTimeout(this.idleTimer);
    if (this.waiting.size === 0) worker.ref();
    const id = ++this.nextId;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, op, a, b });
    });
  }

  private start(): Worker {
    const worker = new Worker(WORKER_CODE, {
      eval: true,
      // not the parent's flags: no --import of a loader into the thread
      execArgv: [],
      workerData: { bcrypt: createRequire(import.meta.url).resolve('bcryptjs') },
      // bcrypt needs a few KiB: small heaps keep the thread's footprint small
      resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 16 },
    });
    // listeners before unref(): adding a 'message' listener refs the thread's port again
    worker.on('message', (reply: Reply) => this.settle(reply));
    worker.on('error', (err) => this.stop(new BcryptWorkerError(`bcrypt thread failed: ${err.message}`, { cause: err }), worker));
    worker.on('exit', (code) => this.stop(new BcryptWorkerError(`bcrypt thread exited with ${code}`), worker));
    worker.unref();
    this.worker = worker;
    return worker;
  }

  private settle(reply: Reply): void {
    const waiting = this.waiting.get(reply.id);
    if (!waiting) return;
    this.waiting.delete(reply.id);
    if (reply.error !== undefined) waiting.reject(new BcryptWorkerError(reply.error));
    else waiting.resolve(reply.value as string | boolean);
    if (this.waiting.size > 0 || !this.worker) return;
    this.worker.unref();
    const idle = this.worker;
    this.idleTimer = setTimeout(() => void this.stop(undefined, idle)?.terminate(), this.idleMs).unref();
  }

  /** Forgets `worker` (the current one when not given) and rejects what waits on it; returns it. */
  private stop(err: Error | undefined, worker = this.worker): Worker | undefined {
    if (!worker || worker !== this.worker) return undefined;
    this.worker = undefined;
    clearTimeout(this.idleTimer);
    for (const w of this.waiting.values()) w.reject(err ?? new BcryptWorkerError('bcrypt thread stopped'));
    this.waiting.clear();
    return worker;
  }
}
