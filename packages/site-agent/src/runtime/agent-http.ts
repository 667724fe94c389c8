import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Logger, parseListen } from '@ferry/shared';
import type { AgentMetrics } from './agent-metrics.js';

export interface ReadinessCheck {
  name: string;
  ok: boolean;
  detail?: string;
}

export interface AgentHttp {
  url: string;
  close(): Promise<void>;
}

/** `/healthz` (alive), `/readyz` (NATS, vCenter, cache), `/metrics` (Prometheus text). */
export async function startAgentHttp(
  listen: string,
  deps: { metrics: AgentMetrics; readiness: () => Promise<ReadinessCheck[]>; log: Logger },
): Promise<AgentHttp> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return reply(405, 'text/plain', 'method not allowed\n');
    if (path === '/healthz') return reply(200, 'text/plain', 'ok\n');
    if (path === '/readyz') {
      deps
        .readiness()
        .then((checks) => {
          const ok = checks.every((c) => c.ok);
          reply(ok ? 200 : 503, 'application/json', `${JSON.stringify({ ready: ok, checks })}\n`);
        })
        .catch((err: Error) => reply(503, 'application/json', JSON.stringify({ ready: false, error: err.message })));
      return;
    }
    if (path === '/metrics') {
      deps.metrics.registry
        .metrics()
        .then((text) => reply(200, deps.metrics.registry.contentType, text))
        .catch((err: Error) => reply(500, 'text/plain', err.message));
      return;
    }
    reply(404, 'text/plain', 'not found: try /healthz, /readyz or /metrics\n');
  });
  const { host, port: listenPort } = parseListen(listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  deps.log.info({ url }, 'http listening (/healthz /readyz /metrics)');
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
