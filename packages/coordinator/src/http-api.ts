/**
 * The coordinator's HTTP API (node:http, no framework), bound to `http.listen` (127.0.0.1:9470 by default):
 *
 *   GET  /healthz            200 "ok"
 *   GET  /api/status         the `ferry status --json` document
 *   GET  /api/images         { schema, generatedAt, images } (the same rows)
 *   GET  /api/sites          { schema, generatedAt, sites }  (the `ferry sites --json` document)
 *   GET  /                   the status page (plain table, refreshes every 10 s)
 *   POST /hooks/artifactory  Artifactory "deployed" webhook (X-JFrog-Event-Auth = webhook secret)
 *
 * With `http.tokenFile` / FERRY_API_TOKEN set, the GET endpoints (but /healthz) require
 * `Authorization: Bearer <token>`. The only state-changing endpoint is the webhook, which always
 * requires its secret.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describeError, type Logger, type Secret } from '@ferry/shared';
import { handleArtifactoryWebhook, secretMatches, type WebhookDeps } from './artifactory-webhook.js';
import type { StatusMatrix } from './status-matrix.js';
import { renderStatus } from './status-table.js';

export interface HttpApiOptions {
  /** `host:port` (`[::1]:port` for IPv6); port 0 picks a free one. */
  listen: string;
  token?: Secret;
  /** Builds the status matrix on demand (reads NATS). */
  status: () => Promise<StatusMatrix>;
  webhook: WebhookDeps;
  logger?: Logger;
}

export interface HttpApi {
  server: Server;
  /** `http://host:port` actually bound. */
  url: string;
  close(): Promise<void>;
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(listen);
  if (!m) throw new Error(`invalid listen address ${JSON.stringify(listen)}: expected host:port`);
  return { host: m[1] ?? m[2] ?? '127.0.0.1', port: Number(m[3]) };
}

function send(res: ServerResponse, status: number, body: unknown, type = 'application/json'): void {
  const text = type === 'application/json' ? `${JSON.stringify(body, null, 2)}\n` : String(body);
  res.writeHead(status, {
    'content-type': `${type}; charset=utf-8`,
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(text);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function statusPage(matrix: StatusMatrix): string {
  return `<!doctype html>
<html><head><meta charset="utf-8"><meta http-equiv="refresh" content="10"><title>ferry status</title>
<style>body{font-family:sans-serif;margin:1.5em}pre{font-size:13px;line-height:1.35}</style></head>
<body><h1>ferry</h1><p>generated ${escapeHtml(matrix.generatedAt)} · <a href="/api/status">JSON</a></p>
<pre>${escapeHtml(renderStatus(matrix, new Date(matrix.generatedAt)))}</pre></body></html>
`;
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(h);
  return m?.[1]?.trim();
}

export async function startHttpApi(options: HttpApiOptions): Promise<HttpApi> {
  const log = options.logger;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (path === '/hooks/artifactory') {
      if (req.method !== 'POST') return send(res, 405, { error: 'use POST' });
      const out = await handleArtifactoryWebhook(req, options.webhook);
      return send(res, out.status, out.body);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'method not allowed' });
    if (path === '/healthz') return send(res, 200, 'ok\n', 'text/plain');
    const known = path === '/' || path === '/api/status' || path === '/api/images' || path === '/api/sites';
    if (!known) return send(res, 404, { error: 'not found' });
    if (options.token && !secretMatches(bearer(req), options.token)) {
      res.setHeader('www-authenticate', 'Bearer');
      return send(res, 401, { error: 'unauthorized' });
    }
    const matrix = await options.status();
    switch (path) {
      case '/':
        return send(res, 200, statusPage(matrix), 'text/html');
      case '/api/status':
        return send(res, 200, matrix);
      case '/api/images':
        return send(res, 200, { schema: matrix.schema, generatedAt: matrix.generatedAt, images: matrix.images });
      default:
        return send(res, 200, { schema: matrix.schema, generatedAt: matrix.generatedAt, sites: matrix.sites });
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const { code, message } = describeError(err);
      log?.warn({ path: req.url, code, err: message }, 'HTTP request failed');
      if (!res.headersSent) send(res, 500, { error: code });
      else res.destroy();
    });
  });
  server.requestTimeout = 30_000;
  server.headersTimeout = 10_000;
  const { host, port } = parseListen(options.listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${shownHost}:${addr.port}`;
  log?.info({ url }, 'HTTP API listening');
  return {
    server,
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
