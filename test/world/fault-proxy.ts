/**
 * A TCP proxy on a free loopback port in front of a target port, for fault tests.
 *
 * - `pass` (default): forward bytes both ways.
 * - `refuse`: accept and immediately reset every new connection (the client sees ECONNRESET).
 * - `http503`: answer every request with `503 Service Unavailable` (an S3-style XML error body)
 *   and close, without contacting the target.
 * - `cutAfterBytes(n)`: the next connection(s) forward at most n bytes from upstream, then both
 *   sockets are destroyed mid-response.
 * - `stallAfterBytes(n)`: the first connection to forward n bytes from upstream stops there, its
 *   sockets open, until `release()` (so a test can watch a transfer in progress, at any speed).
 *
 * Switching to `refuse` or `http503` also destroys the open connections, so that clients with
 * idle keep-alive sockets (the AWS SDK keeps them) reconnect and meet the fault. `cutAfterBytes`
 * applies to connections accepted after the call.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { freePort, LOOPBACK } from './ports.js';

export type FaultMode = 'pass' | 'refuse' | 'http503';

export interface FaultProxy {
  port: number;
  /** `http://127.0.0.1:PORT` */
  url: string;
  setMode(mode: FaultMode): void;
  /** Limit the next `connections` (default 1) connections to `n` bytes from upstream; `undefined` clears. */
  cutAfterBytes(n: number | undefined, connections?: number): void;
  /** Hold the first connection that reaches `n` bytes from upstream until `release()`. */
  stallAfterBytes(n: number): void;
  /** Let stalled connections go on (and cancel a stall not yet hit). */
  release(): void;
  /** Bytes forwarded from upstream to clients, over all connections. */
  readonly bytesFromUpstream: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Destroy every open connection (both sides) without stopping the proxy. */
  dropAll(): void;
  stop(): Promise<void>;
}

const HTTP_503_BODY =
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>ServiceUnavailable</Code>' +
  '<Message>fault proxy: service unavailable</Message></Error>';
const HTTP_503 =
  'HTTP/1.1 503 Service Unavailable\r\n' +
  'Content-Type: application/xml\r\n' +
  `Content-Length: ${Buffer.byteLength(HTTP_503_BODY)}\r\n` +
  'Retry-After: 1\r\n' +
  'Connection: close\r\n\r\n' +
  HTTP_503_BODY;

export async function startFaultProxy(targetPort: number, targetHost = LOOPBACK): Promise<FaultProxy> {
  const port = await freePort();
  let mode: FaultMode = 'pass';
  let cut: { bytes: number; remaining: number } | undefined;
  let stallAt: number | undefined;
  const stalled = new Set<() => void>();
  let bytesFromUpstream = 0;
  let connections = 0;
  const open = new Set<Socket>();

  const track = (s: Socket) => {
    open.add(s);
    s.once('close', () => open.delete(s));
  };

  const answer503 = (client: Socket) => {
    // Read the request head before answering, so the client has finished writing it and reads
    // our response rather than a reset; keep draining whatever body follows until we close.
    let head = '';
    let answered = false;
    client.on('data', (chunk: Buffer) => {
      if (answered) return;
      head += chunk.toString('latin1');
      if (head.includes('\r\n\r\n')) {
        answered = true;
        client.end(HTTP_503);
      }
    });
    client.on('error', () => undefined);
  };

  const forward = (client: Socket) => {
    let limit: number | undefined;
    if (cut) {
      limit = cut.bytes;
      cut.remaining -= 1;
      if (cut.remaining <= 0) cut = undefined;
    }
    const upstream = createConnection({ host: targetHost, port: targetPort });
    track(upstream);
    const destroyBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', destroyBoth);
    upstream.on('error', destroyBoth);
    let forwarded = 0;
    let cutting = false;
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => {
      if (!cutting) client.destroy();
    });
    client.pipe(upstream);
    upstream.on('data', (whole: Buffer) => {
      if (cutting) return;
      let chunk = whole;
      if (stallAt !== undefined && forwarded + chunk.length > stallAt) {
        // Forward up to the stall point; keep the rest (and the upstream) until release().
        const rest = chunk.subarray(stallAt - forwarded);
        chunk = chunk.subarray(0, stallAt - forwarded);
        stallAt = undefined;
        upstream.pause();
        stalled.add(() => {
          forwarded += rest.length;
          bytesFromUpstream += rest.length;
          client.write(rest);
          upstream.resume();
        });
      }
      let out = chunk;
      if (limit !== undefined && forwarded + out.length > limit) out = out.subarray(0, limit - forwarded);
      if (out.length > 0) {
        forwarded += out.length;
        bytesFromUpstream += out.length;
        if (!client.write(out)) {
          upstream.pause();
          client.once('drain', () => upstream.resume());
        }
      }
      if (limit !== undefined && forwarded >= limit) {
        // Let what we wrote reach the client, then cut both sides.
        cutting = true;
        upstream.destroy();
        client.end(() => client.destroy());
      }
    });
    upstream.on('end', () => {
      if (!cutting) client.end();
    });
  };

  const server: Server = createServer((client) => {
    connections += 1;
    track(client);
    if (mode === 'refuse') {
      client.resetAndDestroy();
      return;
    }
    if (mode === 'http503') {
      answer503(client);
      return;
    }
    forward(client);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: LOOPBACK, port }, () => resolve());
  });

  return {
    port,
    url: `http://${LOOPBACK}:${port}`,
    setMode: (m) => {
      mode = m;
      if (m !== 'pass') for (const s of open) s.destroy();
    },
    stallAfterBytes: (n) => {
      stallAt = n;
    },
    release: () => {
      stallAt = undefined;
      for (const go of stalled) go();
      stalled.clear();
    },
    cutAfterBytes: (n, count = 1) => {
      cut = n === undefined ? undefined : { bytes: n, remaining: count };
    },
    get bytesFromUpstream() {
      return bytesFromUpstream;
    },
    get connections() {
      return connections;
    },
    dropAll: () => {
      for (const s of open) s.destroy();
    },
    stop: async () => {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
