/*
 * /proc/<pid>/net/netlink: the netlink sockets of the reader's network namespace, one per line
 * (net/netlink/af_netlink.c, netlink_seq_show):
 *
 *   sk               Eth Pid        Groups   Rmem     Wmem     Dump  Locks    Drops    Inode
 *   0000000089f7ac6d 16  4170       00000000 0        0        0     2        37       1442
 *
 * Eth is the protocol (16 = NETLINK_GENERIC), Drops the messages dropped because the socket's
 * receive buffer was full (sk_drops), Inode the socket's inode (fstat of its fd).
 */

/** Drops of the netlink socket with inode `inode`, or undefined when no line names it. */
export function netlinkDrops(text: string, inode: number): number | undefined {
  const lines = text.split('\n');
  const header = (lines[0] ?? '').trim().split(/\s+/);
  const dropsAt = header.indexOf('Drops');
  const inodeAt = header.indexOf('Inode');
  if (dropsAt < 0 || inodeAt < 0) return undefined;
  for (let i = 1; i < lines.length; i++) {
    const cols = (lines[i] ?? '').trim().split(/\s+/);
    if (Number(cols[inodeAt]) === inode) {
      const drops = Number(cols[dropsAt]);
      return Number.isFinite(drops) ? drops : undefined;
    }
  }
  return undefined;
}
