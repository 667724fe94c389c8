/** Small pieces the route files share. */
import type { FastifyInstance, FastifyReply, HTTPMethods } from 'fastify';
import type { Refusal } from './request-access.js';

export const sendRefusal = (reply: FastifyReply, r: Refusal) =>
  reply
    .code(r.status)
    .headers(r.headers ?? {})
    .send(r.body);

const METHODS: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

/** Any other method on `url` answers 405 naming the one it takes, before any access check. */
export function methodNotAllowed(app: FastifyInstance, url: string, allow: HTTPMethods): void {
  app.route({
    method: METHODS.filter((m) => m !== allow),
    url,
    config: { access: { level: 'public' } },
    handler: (_request, reply) =>
      reply
        .code(405)
        .header('allow', allow)
        .send({ error: `use ${allow}` }),
  });
}

/** The route when this process cannot serve it: 503, after the method check, before access. */
export function unavailable(app: FastifyInstance, method: HTTPMethods, url: string, what: string): void {
  app.route({
    method,
    url,
    config: { access: { level: 'public' } },
    handler: (_request, reply) => reply.code(503).send({ error: `${what} is not available in this process` }),
  });
}
