/**
 * `POST /api/republish` `{ "name", "version", "site"?, "force"? }`: what `ferry republish
 * NAME@VERSION [--site S] [--force]` does (republishImage), for the web page's button. A write:
 * token, same origin, JSON and bearer token are checked by the auth hook (request-access.ts).
 */
import { assertImageName, assertSiteId, assertVersion, FerryError, type Logger } from '@ferry/shared';
import type { FastifyInstance } from 'fastify';
import type { CoordinatorNats } from '../coordinator-context.js';
import { ImageNotFoundError, UnknownSiteError } from '../errors.js';
import { republishImage } from '../publish/republish-image.js';
import { registerJsonWrite, strictObjectSchema } from './route-helpers.js';

export interface RepublishDeps extends CoordinatorNats {
  logger?: Logger;
}

type RepublishBody = { name: string; version: string; site?: string; force?: boolean };

const ROUTE = {
  url: '/api/republish',
  what: 'republish',
  schema: strictObjectSchema(
    { name: { type: 'string' }, version: { type: 'string' } },
    { site: { type: 'string' }, force: { type: 'boolean' } },
  ),
  shape: '{ name, version, site?, force? }',
};

/** Without deps (no NATS in this process) the route answers 503. */
export function registerRepublishRoute(app: FastifyInstance, deps: RepublishDeps | undefined): void {
  registerJsonWrite<RepublishBody>(
    app,
    ROUTE,
    deps &&
      (async (request, reply) => {
        const body = request.body;
        try {
          const name = assertImageName(body.name);
          const version = assertVersion(body.version);
          const sites = body.site === undefined ? undefined : [assertSiteId(body.site)];
          const result = await republishImage(deps, {
            ref: `${name}@${version}`,
            sites,
            force: body.force ?? false,
            unknownSiteHint: 'check the spelling; a site is known once its agent has reported',
          });
          deps.logger?.info(
            {
              image: `${name}@${version}`,
              target: body.site ?? 'all',
              force: body.force ?? false,
              from: request.socket.remoteAddress,
            },
            'web: republish',
          );
          return reply.code(202).send(result);
        } catch (err) {
          if (err instanceof ImageNotFoundError) return reply.code(404).send({ error: err.message });
          if (err instanceof UnknownSiteError) {
            return reply.code(400).send({ error: err.message, knownSites: err.known });
          }
          if (err instanceof FerryError && (err.code === 'USAGE' || err.code === 'INVALID_NAME')) {
            return reply.code(400).send({ error: err.message });
          }
          throw err;
        }
      }),
  );
}
