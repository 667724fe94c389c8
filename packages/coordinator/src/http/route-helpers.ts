/** Small pieces the route files share. */
import type { FastifyInstance, FastifyReply, FastifyRequest, HTTPMethods } from 'fastify';
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

/**
 * The route when this process cannot serve it: 503 after the method check, before access and
 * before any body is read (hence in onRequest: the handler would first parse the body).
 */
export function unavailable(app: FastifyInstance, method: HTTPMethods, url: string, what: string): void {
  const refuse = (reply: FastifyReply) => reply.code(503).send({ error: `${what} is not available in this process` });
  app.route({
    method,
    url,
    config: { access: { level: 'public' } },
    onRequest: async (_request, reply) => refuse(reply),
    handler: async (_request, reply) => refuse(reply),
  });
}

/** A JSON-schema object of exactly these properties (no others), `required` ones first. */
export function strictObjectSchema(required: Record<string, object>, optional: Record<string, object> = {}) {
  return {
    type: 'object',
    additionalProperties: false,
    required: Object.keys(required),
    properties: { ...required, ...optional },
  };
}

export interface JsonWriteRoute {
  url: string;
  /** Names the change in the read-only and the 503 refusals. */
  what: string;
  /** The body's JSON schema (strictObjectSchema) and its shape, as the 400 names it. */
  schema: object;
  shape: string;
}

/**
 * `POST <url>` with a JSON body: a write (the auth hook checks token, origin, type and bearer),
 * its body checked against the schema; other methods 405. Without a handler (what it needs is not
 * in this process) it answers 503.
 */
export function registerJsonWrite<Body>(
  app: FastifyInstance,
  route: JsonWriteRoute,
  handler: ((request: FastifyRequest<{ Body: Body }>, reply: FastifyReply) => Promise<FastifyReply>) | undefined,
): void {
  methodNotAllowed(app, route.url, 'POST');
  if (!handler) {
    unavailable(app, 'POST', route.url, route.what);
    return;
  }
  app.post<{ Body: Body }>(
    route.url,
    {
      schema: { body: route.schema },
      config: { access: { level: 'write', what: route.what, json: true }, shape: route.shape },
    },
    handler,
  );
}
