/**
 * `DELETE /api/sites/<site>[?force=true]`: what `ferry sites remove <site> [--force]` does
 * (removeSite). A write without a body, guarded by the auth hook like every write.
 */
import { FerryError, type Logger, type Topology } from '@ferry/shared';
import type { FastifyInstance } from 'fastify';
import { removeSite } from '../sites/remove-site.js';
import { unavailable } from './route-helpers.js';

export interface SiteRemoveDeps {
  topology: Topology;
  logger?: Logger;
}

const STATUS_BY_CODE: Record<string, number> = { UNKNOWN_SITE: 404, SITE_ACTIVE: 409, INVALID_NAME: 400 };

// A wildcard, not `:site`: the site is whatever follows (decoded), checked by removeSite.
const URL = '/api/sites/*';

/** Without deps (no NATS in this process) the route answers 503. */
export function registerSiteRemoveRoute(app: FastifyInstance, deps: SiteRemoveDeps | undefined): void {
  if (!deps) {
    unavailable(app, 'DELETE', URL, 'removing sites');
    return;
  }
  app.delete<{ Params: { '*': string }; Querystring: { force?: string } }>(
    URL,
    { config: { access: { level: 'write', what: 'removing sites', json: false } } },
    async (request, reply) => {
      const force = request.query.force === 'true';
      try {
        const result = await removeSite(deps.topology, request.params['*'], { force });
        deps.logger?.info(
          { site: result.site, force, statusKeys: result.statusKeys.length, from: request.socket.remoteAddress },
          'web: site removed',
        );
        return reply.code(200).send(result);
      } catch (err) {
        const status = err instanceof FerryError ? STATUS_BY_CODE[err.code] : undefined;
        if (status !== undefined) return reply.code(status).send({ error: (err as FerryError).message });
        throw err;
      }
    },
  );
}
