/**
 * `GET /api/events`: Server-Sent Events for the web page, fanned out from the one LiveStatus of
 * the process. The stream (`text/event-stream`, one JSON document per `data:` line):
 *
 *   retry: 3000
 *   event: hello    data: {"republish":true|false}            what the page may offer
 *   event: status   data: <the full ferry/status/v1 document>  once, on connect
 *   event: patch    data: <ferry/status-patch/v1>              after every change (≤ 4 per second)
 *   : keepalive                                               a comment every 15 s, for proxies
 *
 * A client that does not read (its socket buffer grows past MAX_BUFFERED) is cut off; it
 * reconnects and starts again from a full document. Closing the hub ends every stream.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '@ferry/shared';
import type { LiveStatus } from './live-status.js';

export const KEEPALIVE_MS = 15_000;
const MAX_BUFFERED = 16 * 1024 * 1024;
const MAX_CLIENTS = 200;

export interface EventStreamHub {
  serve(req: IncomingMessage, res: ServerResponse, hello: { republish: boolean }): Promise<void>;
  readonly clients: number;
  /** Ends every stream and stops the keepalive timer. */
  close(): void;
}

export function createEventStreamHub(
  live: LiveStatus,
  options: { logger?: Logger; keepaliveMs?: number } = {},
): EventStreamHub {
  const clients = new Set<ServerResponse>();
  let closed = false;
  const drop = (res: ServerResponse) => {
    clients.delete(res);
    if (!res.destroyed) res.end();
  };
  const keepalive = setInterval(() => {
    for (const res of clients) write(res, ': keepalive\n\n');
  }, options.keepaliveMs ?? KEEPALIVE_MS);
  keepalive.unref();

  function write(res: ServerResponse, text: string): void {
    if (res.destroyed || res.writableEnded) return;
    res.write(text);
    if (res.writableLength > MAX_BUFFERED) {
      options.logger?.warn({ buffered: res.writableLength }, 'event stream: client too slow; disconnected');
      clients.delete(res);
      res.destroy();
    }
  }

  return {
    get clients() {
      return clients.size;
    },
    async serve(req, res, hello) {
      if (closed) {
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' }).end('shutting down\n');
        return;
      }
      if (clients.size >= MAX_CLIENTS) {
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '10' });
        res.end('too many event streams\n');
        return;
      }
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        // nginx: do not buffer the stream.
        'x-accel-buffering': 'no',
      });
      res.write(`retry: 3000\nevent: hello\ndata: ${JSON.stringify(hello)}\n\n`);
      clients.add(res);
      let unsubscribe: (() => void) | undefined;
      const cleanup = () => {
        unsubscribe?.();
        clients.delete(res);
      };
      req.once('close', cleanup);
      res.once('close', cleanup);
      await live.ready;
      if (closed || res.destroyed || !clients.has(res)) return;
      const sub = live.subscribe((patch) => write(res, `event: patch\ndata: ${patch}\n\n`));
      unsubscribe = sub.unsubscribe;
      write(res, `event: status\ndata: ${sub.document}\n\n`);
    },
    close() {
      closed = true;
      clearInterval(keepalive);
      for (const res of [...clients]) drop(res);
    },
  };
}
