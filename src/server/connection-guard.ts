import type { Server } from 'node:net';
import type { Socket } from 'node:net';

export interface ConnectionGuardOptions {
  /** open connections in all */
  maxConnections: number;
  /** open connections from one client address */
  maxPerClient: number;
}

interface Tracked {
  socket: Socket;
  client: string;
  /** requests in progress on it; 0: idle (never used, slow headers, idle TLS, idle keep-alive) */
  busy: number;
}

const keyOf = (s: { remoteAddress?: string | undefined; remotePort?: number | undefined }) => `${s.remoteAddress ?? ''}:${s.remotePort ?? 0}`;

/**
 * Bounds what clients can hold so /health always gets a connection: one address holds at most
 * maxPerClient connections (a newer one is closed at once), and when all maxConnections are
 * taken, the oldest connection with no request in progress (slow headers, a TLS handshake never
 * started, an idle keep-alive) is closed to make room, instead of refusing the newcomer.
 */
export function guardConnections(server: Server, opts: ConnectionGuardOptions): void {
  // insertion order is age order
  const open = new Map<string, Tracked>();
  const perClient = new Map<string, number>();
  const refuse = closer();
  server.prependListener('connection', (socket: Socket) => {
    const client = socket.remoteAddress ?? '';
    const mine = perClient.get(client) ?? 0;
    if (mine >= opts.maxPerClient) {
      refuse(socket);
      return;
    }
    if (open.size >= opts.maxConnections) {
      let victim: Tracked | undefined;
      for (const t of open.values()) {
        if (t.busy > 0) continue;
        victim = t;
        break;
      }
      if (!victim) {
        refuse(socket);
        return;
      }
      victim.socket.destroy();
      forget(keyOf(victim.socket), victim.client);
    }
    const key = keyOf(socket);
    open.set(key, { socket, client, busy: 0 });
    perClient.set(client, mine + 1);
    socket.once('close', () => forget(key, client));
  });
  server.on('request', (req: { socket: Socket }, res: { once(event: 'close', f: () => void): void }) => {
    const t = open.get(keyOf(req.socket));
    if (!t) return;
    t.busy++;
    res.once('close', () => t.busy--);
  });

  function forget(key: string, client: string): void {
    if (!open.delete(key)) return;
    const n = (perClient.get(client) ?? 1) - 1;
    if (n > 0) perClient.set(client, n);
    else perClient.delete(client);
  }
}

/** sockets closed per turn of the event loop */
const CLOSES_PER_TURN = 8;

/**
 * Closes refused connections a few per event-loop turn. A close costs 0.25-4 ms on a loaded
 * machine (on loopback the kernel runs the peer's side of it too): a burst of a few hundred
 * refused connects closed in one go held /health for over a second.
 */
function closer(): (socket: Socket) => void {
  const queue: Socket[] = [];
  const drain = (): void => {
    for (const s of queue.splice(0, CLOSES_PER_TURN)) s.destroy();
    if (queue.length > 0) setImmediate(drain);
  };
  return (socket) => {
    // nothing it sends is read meanwhile
    socket.pause();
    if (queue.push(socket) === 1) setImmediate(drain);
  };
}
