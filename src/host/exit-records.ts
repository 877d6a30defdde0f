import { readFileSync, readlinkSync } from 'node:fs';
import type { Logger } from '../log.js';
import { ExitListener } from '../taskstats/exit-listener.js';
import { NetlinkError } from '../taskstats/netlink-socket.js';
import { delayAccountingOn } from './delay-accounting.js';

/** The initial PID namespace's inode (PROC_PID_INIT_INO): exit records carry pids as it numbers them. */
const INIT_PID_NS = 'pid:[4026531836]';

let warned = false;

/**
 * The exit listener, or undefined (said once in the log) when it cannot serve this exporter: no
 * CAP_NET_ADMIN, another network namespace, or a procfs of another PID namespace than the one the
 * records number tasks in (a pid there would name another process).
 */
export function openExitRecords(procfsRoot: string, log: Logger): ExitListener | undefined {
  const why = (reason: string): undefined => {
    if (!warned) log.info('exit records off: exited children are credited through their parent\'s cutime', { reason });
    warned = true;
    return undefined;
  };
  // pids in records are the initial namespace's: we must live there (hostPID), and the procfs
  // root must number tasks as ours does (its `self` is our process with one pid, not nested)
  let own: string;
  let nspid: string | undefined;
  try {
    own = readlinkSync('/proc/self/ns/pid');
    nspid = /^NSpid:\s*(.*)$/m.exec(readFileSync(`${procfsRoot}/self/status`, 'utf8'))?.[1];
  } catch (err) {
    return why(`cannot tell the PID namespace of ${procfsRoot}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  if (own !== INIT_PID_NS) return why(`the exporter runs in PID namespace ${own}; exit records number tasks in the initial one (run with hostPID)`);
  if (nspid === undefined || nspid.trim().split(/\s+/).length !== 1) return why(`${procfsRoot} is not the initial PID namespace's procfs`);
  try {
    return ExitListener.open({ delayAccountingOn: () => delayAccountingOn(procfsRoot) });
  } catch (err) {
    if (err instanceof NetlinkError) return why(`${err.code}: ${err.message}`);
    throw err;
  }
}
