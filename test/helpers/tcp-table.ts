import { readFileSync } from 'node:fs';

/**
 * One IPv4 TCP socket from /proc/net/tcp. The kernel's format (net/ipv4/tcp_ipv4.c):
 *   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
 *    0: 0100007F:4E21 0203007F:A1B2 01 00000000:00000000 00:00000000 00000000     0        0 123456 ...
 * Addresses are the 32-bit word in host byte order (little-endian here), ports hex. An orphaned
 * socket (closed by its process, data still queued) has inode 0.
 */
export interface TcpSocket {
  local: string;
  localPort: number;
  remote: string;
  remotePort: number;
  /** TCP_ESTABLISHED = 1, TCP_FIN_WAIT1 = 4, ... (include/net/tcp_states.h) */
  state: number;
  /** bytes queued for sending */
  txQueue: number;
  inode: number;
}

function ipv4(hex: string): string {
  const n = Number.parseInt(hex, 16);
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24].join('.');
}

/** Every IPv4 TCP socket of this network namespace. */
export function tcpSockets(): TcpSocket[] {
  const out: TcpSocket[] = [];
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [local = '', remote = '', state = '', queues = ''] = f.slice(1, 5);
    const [lAddr = '', lPort = ''] = local.split(':');
    const [rAddr = '', rPort = ''] = remote.split(':');
    out.push({
      local: ipv4(lAddr),
      localPort: Number.parseInt(lPort, 16),
      remote: ipv4(rAddr),
      remotePort: Number.parseInt(rPort, 16),
      state: Number.parseInt(state, 16),
      txQueue: Number.parseInt(queues.split(':')[0] ?? '0', 16),
      inode: Number(f[9]),
    });
  }
  return out;
}
