/**
 * Applies and deletes rendered manifests with the cluster's own client (oc or kubectl), fed on stdin,
 * so the user's kubeconfig, context and credentials apply unchanged.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import path from 'node:path';
import type { Writable } from 'node:stream';
import { ExporterError } from '../errors.js';

/** Full path of an executable file `name` on the search path, or undefined. */
export function findExecutable(name: string, searchPath: string = process.env['PATH'] ?? ''): string | undefined {
  for (const dir of searchPath.split(path.delimiter)) {
    if (dir === '') continue;
    const candidate = path.join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

function isExecutableFile(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * The client to run: `explicit` (a path, or a name looked up on the search path), else the first of
 * `preferred` found on the search path.
 */
export function chooseClient(explicit: string | undefined, preferred: readonly string[], searchPath?: string): string {
  if (explicit !== undefined) {
    const found = explicit.includes('/') ? (isExecutableFile(explicit) ? explicit : undefined) : findExecutable(explicit, searchPath);
    if (!found) throw new ExporterError('KUBECTL_FAILED', `--kubectl ${explicit}: not an executable file`);
    return found;
  }
  for (const name of preferred) {
    const found = findExecutable(name, searchPath);
    if (found) return found;
  }
  throw new ExporterError('KUBECTL_FAILED', `neither ${preferred.join(' nor ')} found on PATH: give one with --kubectl PATH, or print the manifests with --dry-run`);
}

export interface KubectlRun {
  client: string;
  args: readonly string[];
  /** written to the client's stdin */
  input: string;
  /** where the client's own output goes (the user's terminal) */
  stdout: Writable;
  stderr: Writable;
}

/** Runs the client; rejects with KUBECTL_FAILED, with the end of its stderr, unless it exits 0. */
export function runKubectl({ client, args, input, stdout, stderr }: KubectlRun): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(client, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let errTail = '';
    child.stdout.on('data', (chunk: Buffer) => stdout.write(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      stderr.write(chunk);
      errTail = (errTail + chunk.toString('utf8')).slice(-2000);
    });
    child.on('error', (err) => reject(new ExporterError('KUBECTL_FAILED', `cannot run ${client}: ${err.message}`, { cause: err })));
    child.on('close', (code, signal) => {
      if (code === 0) return resolve();
      const how = signal ? `was killed by ${signal}` : `exited with ${code}`;
      const last = errTail.trim().split('\n').slice(-3).join('\n');
      reject(new ExporterError('KUBECTL_FAILED', `${path.basename(client)} ${args.join(' ')} ${how}${last ? `:\n${last}` : ''}`));
    });
    // a client that exits before reading all of stdin must not crash us with EPIPE
    child.stdin.on('error', () => undefined);
    child.stdin.end(input);
  });
}
