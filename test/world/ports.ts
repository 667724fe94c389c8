import { createServer } from 'node:net';

/** Loopback only: the test world never listens on anything but 127.0.0.1. */
export const LOOPBACK = '127.0.0.1';

/**
 * Ports are picked at random below Linux's ephemeral range (32768–60999), so the
 * kernel does not hand the same port to an outgoing connection between our check
 * and the server's bind; each port is handed out once per process, and parallel
 * test workers collide only by chance (1 in 12 000 per pick).
 */
const LOW = 20_000;
const HIGH = 32_000;
const handedOut = new Set<number>();

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ host: LOOPBACK, port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A TCP port that is free on 127.0.0.1 now and was not handed out before in this process. */
export async function freePort(): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (handedOut.has(port)) continue;
    if (await canBind(port)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`freePort: no free port found between ${LOW} and ${HIGH}`);
}
