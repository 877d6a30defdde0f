import { spawn, type ChildProcess } from 'node:child_process';

export interface FloodOptions {
  port: number;
  /** source addresses, one socket each (repeat an address for more) */
  sources: readonly string[];
  /** 'slowloris': a request line, then one header byte a second; 'idle': connect, send nothing */
  mode: 'slowloris' | 'idle';
}

export interface Flood {
  /** sockets the attacker had open when asked */
  open(): Promise<number>;
  stop(): void;
}

// plain JavaScript in its own process, so the attacker's work does not delay the prober's timers
const ATTACKER = `
const net = require('node:net');
const { port, sources, mode } = JSON.parse(process.argv[1]);
let open = 0, connected = 0;
for (const localAddress of sources) {
  const s = net.connect({ host: '127.0.0.1', port, localAddress });
  s.on('error', () => {});
  s.on('close', () => { open--; });
  open++;
  s.on('connect', () => {
    if (++connected === sources.length) process.send('connected');
    if (mode !== 'slowloris') return;
    s.write('GET /health HTTP/1.1\\r\\nHost: x\\r\\n');
    const t = setInterval(() => (s.destroyed ? clearInterval(t) : s.write('X')), 1000);
  });
}
process.on('message', () => process.send(String(open)));
`;

/** Starts the attacker; resolves once every socket got through the TCP handshake (or 5 s passed). */
export async function startFlood(opts: FloodOptions): Promise<Flood> {
  const child: ChildProcess = spawn(process.execPath, ['-e', ATTACKER, JSON.stringify(opts)], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, 5000);
    child.once('message', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return {
    open: () =>
      new Promise((resolve) => {
        child.once('message', (m) => resolve(Number(m)));
        child.send('count');
      }),
    stop: () => {
      child.kill('SIGKILL');
    },
  };
}
