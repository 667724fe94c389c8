/**
 * The coordinator's HTTP API (node:http, no framework), bound to `http.listen` (127.0.0.1:9470 by default):
 *
 *   GET  /healthz            200 "ok"
 *   GET  /                   the live status page (web/index.html; its script and style under /assets/)
 *   GET  /api/events         Server-Sent Events for the page: the status document, then patches (web/event-stream.ts)
 *   GET  /api/status         the `ferry status --json` document
 *   GET  /api/images         { schema, generatedAt, images } (the same rows)
 *   GET  /api/sites          { schema, generatedAt, sites }  (the `ferry sites --json` document)
 *   POST /api/republish      { name, version, site?, force? }: `ferry republish` (web/republish-endpoint.ts)
 *   POST /api/approve        { name, version, note? }: `ferry approve` (web/approve-endpoint.ts)
 *   DELETE /api/sites/<site> `ferry sites remove <site>` (?force=true: `--force`) (web/site-remove-endpoint.ts)
 *   POST /hooks/artifactory  Artifactory "deployed" webhook (X-JFrog-Event-Auth = webhook secret)
 *
 * Tokens. With `http.tokenFile` / FERRY_API_TOKEN set, the data endpoints (/api/*) require
 * `Authorization: Bearer <token>`; the page and its assets do not (they hold no data), and the
 * page asks the operator for the token. /api/events takes the token in the same header and
 * NOWHERE else: the browser's EventSource cannot send headers, so the page reads the stream with
 * fetch() (a ReadableStream of the same text/event-stream); a `?token=` would land in proxy and
 * access logs and in the browser history. Without a token the API is read-only: everything can
 * be read, /api/republish and DELETE /api/sites/<site> answer 403. The webhook always requires its own secret.
 *
 * A non-browser client (its Accept header does not ask for text/html: curl, scripts) that may read
 * the data also gets the plain text matrix of `ferry status` inside the page's <noscript>.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Catalog, describeError, type EventBus, type Logger, type Secret, type Topology } from '@ferry/shared';
import { handleArtifactoryWebhook, secretMatches, type WebhookDeps } from './discovery/artifactory-webhook.js';
import type { RolloutDriverDeps } from './rollout/rollout-driver.js';
import type { StatusMatrix } from './status/status-matrix.js';
import { renderStatus } from './status/status-table.js';
import { handleApprove } from './web/approve-endpoint.js';
import { type Asset, loadAssets, PAGE_CSP } from './web/assets.js';
import { createEventStreamHub, type EventStreamHub } from './web/event-stream.js';
import { LiveStatus } from './web/live-status.js';
import { bearer, handleRepublish } from './web/republish-endpoint.js';
import { handleSiteRemove, SITES_PATH_PREFIX } from './web/site-remove-endpoint.js';

export interface HttpApiOptions {
  /** `host:port` (`[::1]:port` for IPv6); port 0 picks a free one. */
  listen: string;
  token?: Secret;
  /**
   * For /api/approve (without it: 503): the rollouts, and who approvals through the API are
   * recorded as (`api:<tokenName>`, config `http.tokenName`).
   */
  approve?: { rollouts: RolloutDriverDeps; tokenName: string };
  /** Builds the status matrix on demand (reads NATS). */
  status: () => Promise<StatusMatrix>;
  webhook: WebhookDeps;
  /**
   * NATS for the live page (the daemon passes its context): KV watches on the topology feed
   * /api/events; catalog and bus serve /api/republish. Without it both answer 503.
   */
  live?: { topology: Topology; catalog: Catalog; bus: EventBus };
  logger?: Logger;
}

export interface HttpApi {
  server: Server;
  /** `http://host:port` actually bound. */
  url: string;
  /** The process's one live status (KV watches), when `live` was given. */
  liveStatus?: LiveStatus;
  close(): Promise<void>;
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(listen);
  if (!m) throw new Error(`invalid listen address ${JSON.stringify(listen)}: expected host:port`);
  return { host: m[1] ?? m[2] ?? '127.0.0.1', port: Number(m[3]) };
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  type = 'application/json',
  headers: Record<string, string> = {},
): void {
  const text = type === 'application/json' ? `${JSON.stringify(body, null, 2)}\n` : String(body);
  res.writeHead(status, {
    'content-type': `${type}; charset=utf-8`,
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    ...headers,
  });
  res.end(text);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const pageHeaders = (asset: Asset): Record<string, string> => ({
  'content-type': asset.type,
  'cache-control': 'no-cache',
  etag: asset.etag,
  'x-content-type-options': 'nosniff',
  'content-security-policy': PAGE_CSP,
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
});

function sendAsset(req: IncomingMessage, res: ServerResponse, asset: Asset, body: Buffer = asset.body): void {
  if (body === asset.body && req.headers['if-none-match'] === asset.etag) {
    res.writeHead(304, pageHeaders(asset)).end();
    return;
  }
  res.writeHead(200, { ...pageHeaders(asset), 'content-length': body.length });
  res.end(body);
}

export async function startHttpApi(options: HttpApiOptions): Promise<HttpApi> {
  const log = options.logger;
  const assets = await loadAssets();
  const live = options.live ? new LiveStatus({ topology: options.live.topology, logger: log }) : undefined;
  const events: EventStreamHub | undefined = live ? createEventStreamHub(live, { logger: log }) : undefined;
  const authorized = (req: IncomingMessage) => !options.token || secretMatches(bearer(req), options.token);
  const unauthorized = (res: ServerResponse) =>
    send(res, 401, { error: 'unauthorized' }, undefined, { 'www-authenticate': 'Bearer' });

  const page = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const asset = assets.get('/')!;
    const browser = /text\/html/i.test(req.headers.accept ?? '');
    if (browser || !authorized(req)) return sendAsset(req, res, asset);
    const matrix = await options.status();
    const text = `<noscript><pre>${escapeHtml(renderStatus(matrix, new Date(matrix.generatedAt)))}</pre></noscript>`;
    const html = asset.body.toString('utf8').replace('<!--noscript-->', () => text);
    return sendAsset(req, res, asset, Buffer.from(html));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = url.pathname;
    if (path === '/hooks/artifactory') {
      if (req.method !== 'POST') return send(res, 405, { error: 'use POST' }, undefined, { allow: 'POST' });
      const out = await handleArtifactoryWebhook(req, options.webhook);
      return send(res, out.status, out.body);
    }
    if (path === '/api/republish') {
      if (req.method !== 'POST') return send(res, 405, { error: 'use POST' }, undefined, { allow: 'POST' });
      if (!options.live) return send(res, 503, { error: 'republish is not available in this process' });
      const out = await handleRepublish(req, { ...options.live, token: options.token, logger: log });
      return send(res, out.status, out.body, undefined, out.headers);
    }
    if (path === '/api/approve') {
      if (req.method !== 'POST') return send(res, 405, { error: 'use POST' }, undefined, { allow: 'POST' });
      if (!options.approve) return send(res, 503, { error: 'approve is not available in this process' });
      const out = await handleApprove(req, { ...options.approve, token: options.token, logger: log });
      return send(res, out.status, out.body, undefined, out.headers);
    }
    if (path.startsWith(SITES_PATH_PREFIX) && req.method === 'DELETE') {
      if (!options.live) return send(res, 503, { error: 'removing sites is not available in this process' });
      const out = await handleSiteRemove(req, url, { ...options.live, token: options.token, logger: log });
      return send(res, out.status, out.body, undefined, out.headers);
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, { error: 'method not allowed' });
    if (path === '/healthz') return send(res, 200, 'ok\n', 'text/plain');
    if (path === '/' || path === '/index.html') return page(req, res);
    const asset = assets.get(path);
    if (asset) return sendAsset(req, res, asset);
    const known = path === '/api/events' || path === '/api/status' || path === '/api/images' || path === '/api/sites';
    if (!known) return send(res, 404, { error: 'not found' });
    if (!authorized(req)) return unauthorized(res);
    if (path === '/api/events') {
      if (req.method !== 'GET') return send(res, 405, { error: 'use GET' }, undefined, { allow: 'GET' });
      if (!events) return send(res, 503, { error: 'live status is not available in this process' });
      return events.serve(req, res, { republish: options.token !== undefined });
    }
    const matrix = await options.status();
    switch (path) {
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
  live?.start();
  const addr = server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${shownHost}:${addr.port}`;
  log?.info({ url }, 'HTTP API listening');
  return {
    server,
    url,
    liveStatus: live,
    close: () =>
      new Promise<void>((resolve) => {
        // Event streams never end on their own: end them, or server.close() would wait forever.
        events?.close();
        live?.close();
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}
