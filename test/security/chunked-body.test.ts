/**
 * Attack: stream an endless chunked body to POST /-/reload (no Content-Length, so the 64 KiB
 * declared-size check cannot see it). The exporter counts the body and closes the connection
 * after 64 KiB: the attacker gets a few hundred KiB (socket buffers) in at most, not gigabytes.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { startExporter } from '../helpers/exporter-process.js';

test('a chunked body to /-/reload is cut off after 64 KiB', { timeout: 60_000 }, async () => {
  const ex = await startExporter(['-web.enable-lifecycle']);
  try {
    const chunk = Buffer.concat([Buffer.from('10000\r\n'), Buffer.alloc(0x10000, 'a'), Buffer.from('\r\n')]);
    const LIMIT = 64 << 20; // the attacker gives up after 64 MiB
    const { sent, answer } = await new Promise<{ sent: number; answer: string }>((resolve) => {
      const s = net.connect({ host: '127.0.0.1', port: ex.port });
      let sent = 0;
      let answer = '';
      s.on('data', (d: Buffer) => (answer += d.toString('latin1')));
      s.on('error', () => {});
      s.on('close', () => resolve({ sent, answer }));
      s.write('POST /-/reload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
      const pump = (): void => {
        while (sent < LIMIT && !s.destroyed) {
          sent += chunk.length;
          if (!s.write(chunk)) {
            s.once('drain', pump);
            return;
          }
        }
        s.destroy();
      };
      pump();
    });
    console.log(`the attacker got ${(sent / 1024).toFixed(0)} KiB in before the connection closed; answer: ${answer.split('\r\n')[0] ?? '(none)'}`);
    assert.ok(sent < 16 << 20, `connection closed after ${sent} bytes, not ${LIMIT}`);
    assert.equal((await fetch(`${ex.url}/health`)).status, 200);
  } finally {
    await ex.stop();
  }
});
