import { readFileSync } from 'node:fs';

/**
 * kernel.task_delayacct of the host (<procfs>/sys/kernel/task_delayacct, a sysctl since 5.14):
 * whether block I/O, swap-in and reclaim delays are kept. Off when the file cannot be read.
 */
export function delayAccountingOn(procfsRoot: string): boolean {
  try {
    return readFileSync(`${procfsRoot}/sys/kernel/task_delayacct`, 'utf8').trim() === '1';
  } catch {
    return false;
  }
}
