/**
 * The coordinator's HTTP API (fastify), bound to `http.listen` (127.0.0.1:9470 by default):
 *
 *   GET  /healthz            200 "ok"
 *   GET  /                   the live status page (web/index.html; its script and style under /assets/)
 *   GET  /api/events         Server-Sent Events for the page: the status document, then patches (web/event-stream.ts)
 *   GET  /api/status         the `ferry status --json` document
 *   GET  /api/images         { schema, generatedAt, images } (the same rows)
 *   GET  /api/sites          { schema, generatedAt, sites }  (the `ferry sites --json` document)
 *   POST /api/republish      { name, version, site?, force? }: `ferry republish` (republish-route.ts)
 *   POST /api/approve        { name, version, note? }: `ferry approve` (approve-route.ts)
 *   DELETE /api/sites/<site> `ferry sites remove <site>` (?force=true: `--force`) (site-remove-route.ts)
 *   POST /hooks/artifactory  Artifactory "deployed" webhook (X-JFrog-Event-Auth = webhook secret)
 *
 * Every route declares its access level (request-access.ts); ONE onRequest hook applies it, before
 * any body is read. With `http.tokenFile` / FERRY_API_TOKEN set, every /api/* route requires
 * `Authorization: Bearer <token>`, GET included; the page and its assets do not (they hold no
 * data), and the page asks the operator for the token. /api/events takes the token in the same
 * header and NOWHERE else: the browser's EventSource cannot send headers, so the page reads the
 * stream with fetch(); a `?token=` would land in proxy and access logs and in the browser history.
 * Without a token the API is read-only: its writes answer 403. The webhook requires its own secret.
 *
 * Fastify's own logger is off: failures are logged through the ferry Logger, never with headers.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describeError, type Logger, parseListen, type Secret } from '@ferry/shared';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { CoordinatorNats } from '../coordinator-context.js';
import type { WebhookDeps } from '../discovery/artifactory-webhook.js';
import type { RolloutDriverDeps } from '../rollout/rollout-driver.js';
import type { StatusMatrix } from '../status/status-matrix.js';
import { createEventStreamHub } from '../web/event-stream.js';
import { LiveStatus } from '../web/live-status.js';
import { registerApproveRoute } from './approve-route.js';
import { registerPageRoutes } from './page-routes.js';
import { registerRepublishRoute } from './republish-route.js';
import { type Access, type AccessSecrets, refuseAccess } from './request-access.js';
import { sendRefusal } from './route-helpers.js';
import { registerSiteRemoveRoute } from './site-remove-route.js';
import { registerStatusRoutes } from './status-routes.js';
import { registerWebhookRoute } from './webhook-route.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route (request-access.ts); unset: `read` under /api/, else `public`. */
    access?: Access;
    /** The JSON body's expected shape, named in the 400 when the body does not match its schema. */
    shape?: string;
  }
}

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
  live?: CoordinatorNats;
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

/** Writes carry small JSON documents; the webhook route raises its own limit. */
const BODY_LIMIT_BYTES = 4096;

/** The hook, error and not-found handling every route shares. */
function guard(app: FastifyInstance, secrets: AccessSecrets, log: Logger | undefined): void {
  app.setReplySerializer((payload) => `${JSON.stringify(payload, null, 2)}\n`);
  app.addHook('onRequest', async (request, reply) => {
    const config = request.routeOptions.config;
    const url = request.routeOptions.url ?? '';
    const access: Access = config.access ?? (url.startsWith('/api/') ? { level: 'read' } : { level: 'public' });
    const refusal = refuseAccess(access, request.headers, secrets);
    if (refusal) return sendRefusal(reply, refusal);
  });
  app.addHook('onSend', async (_request, reply) => {
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    reply.header('x-content-type-options', 'nosniff');
  });
  app.setNotFoundHandler((request, reply) => {
    if (request.method !== 'GET' && request.method !== 'HEAD')
      return reply.code(405).send({ error: 'method not allowed' });
    return reply.code(404).send({ error: 'not found' });
  });
  app.setErrorHandler((err: Error & { code?: string; statusCode?: number; validation?: unknown }, request, reply) => {
    if (err.validation)
      return reply.code(400).send({ error: `expected ${request.routeOptions.config.shape ?? 'a JSON object'}` });
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send({ error: `body larger than ${request.routeOptions.bodyLimit} bytes` });
    }
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return reply.code(415).send({ error: 'expected Content-Type: application/json' });
    }
    if (err.statusCode === 400) return reply.code(400).send({ error: 'body is not JSON' });
    const { code, message } = describeError(err);
    log?.warn({ path: request.url.split('?')[0], code, err: message }, 'HTTP request failed');
    return reply.code(500).send({ error: code });
  });
}

export async function startHttpApi(options: HttpApiOptions): Promise<HttpApi> {
  const log = options.logger;
  const live = options.live ? new LiveStatus({ topology: options.live.topology, logger: log }) : undefined;
  const events = live ? createEventStreamHub(live, { logger: log }) : undefined;
  const app = Fastify({
    // Fastify's own logger is off (no request logs, no headers logged): failures go to the ferry Logger.
    logger: false,
    bodyLimit: BODY_LIMIT_BYTES,
    requestTimeout: 30_000,
    // Bodies are checked as sent: no extra keys dropped, no "true" turned into true.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false } },
    frameworkErrors: (err, _request, reply) => {
      // Routing failed: a path that is not valid URL encoding names no route (nothing is read).
      const bad = err.code === 'FST_ERR_BAD_URL';
      (reply as FastifyReply)
        .code(bad ? 400 : 500)
        .send({ error: bad ? 'the path is not valid URL encoding' : 'INTERNAL' });
    },
  });
  app.server.headersTimeout = 10_000;
  guard(app, { token: options.token, webhookSecret: options.webhook.secret }, log);
  await registerPageRoutes(app, { token: options.token, status: options.status });
  registerStatusRoutes(app, { status: options.status, events, writable: options.token !== undefined, logger: log });
  registerRepublishRoute(app, options.live && { ...options.live, logger: log });
  registerApproveRoute(app, options.approve && { ...options.approve, logger: log });
  registerSiteRemoveRoute(app, options.live && { topology: options.live.topology, logger: log });
  registerWebhookRoute(app, options.webhook);

  const { host, port } = parseListen(options.listen);
  await app.listen({ host, port });
  live?.start();
  const addr = app.server.address() as AddressInfo;
  const shownHost = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const url = `http://${shownHost}:${addr.port}`;
  log?.info({ url }, 'HTTP API listening');
  return {
    server: app.server,
    url,
    liveStatus: live,
    close: async () => {
      // Event streams never end on their own: end them, or closing would wait for them forever.
      events?.close();
      live?.close();
      await app.close();
    },
  };
}
