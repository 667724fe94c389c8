/**
 * The reads: `/api/status`, `/api/images`, `/api/sites` (documents of the status matrix) and
 * `/api/events`, the page's Server-Sent Events (web/event-stream.ts writes the stream itself, so the
 * route hands it the raw request and response).
 */
import { describeError, type Logger } from '@ferry/shared';
import type { FastifyInstance } from 'fastify';
import type { StatusMatrix } from '../status/status-matrix.js';
import type { EventStreamHub } from '../web/event-stream.js';

export interface StatusRouteDeps {
  status: () => Promise<StatusMatrix>;
  /** Without it (no NATS in this process) /api/events answers 503. */
  events?: EventStreamHub;
  /** Whether the page may offer its write buttons (a token is configured). */
  writable: boolean;
  logger?: Logger;
}

export function registerStatusRoutes(app: FastifyInstance, deps: StatusRouteDeps): void {
  app.get('/api/status', () => deps.status());
  app.get('/api/images', async () => {
    const { schema, generatedAt, images } = await deps.status();
    return { schema, generatedAt, images };
  });
  app.get('/api/sites', async () => {
    const { schema, generatedAt, sites } = await deps.status();
    return { schema, generatedAt, sites };
  });
  app.get('/api/events', { exposeHeadRoute: false }, async (request, reply) => {
    const events = deps.events;
    if (!events) return reply.code(503).send({ error: 'live status is not available in this process' });
    reply.hijack();
    try {
      await events.serve(request.raw, reply.raw, { republish: deps.writable });
    } catch (err) {
      const { code, message } = describeError(err);
      deps.logger?.warn({ path: '/api/events', code, err: message }, 'HTTP request failed');
      reply.raw.destroy();
    }
  });
  app.head('/api/events', (_request, reply) => reply.code(405).header('allow', 'GET').send({ error: 'use GET' }));
}
