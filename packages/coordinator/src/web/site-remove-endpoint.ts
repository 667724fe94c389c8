/**
 * `DELETE /api/sites/<site>[?force=true]`: what `ferry sites remove <site> [--force]` does
 * (removeSite). Guarded like every write (refuseWrite: a configured token, same origin, the bearer
 * token); it has no body.
 */
import type { IncomingMessage } from 'node:http';
import { FerryError, type Logger, type Secret, type Topology } from '@ferry/shared';
import { removeSite } from '../sites/remove-site.js';
import { type ApiResponse, refuseWrite } from './republish-endpoint.js';

export const SITES_PATH_PREFIX = '/api/sites/';

export interface SiteRemoveDeps {
  token?: Secret;
  topology: Topology;
  logger?: Logger;
}

const STATUS_BY_CODE: Record<string, number> = { UNKNOWN_SITE: 404, SITE_ACTIVE: 409, INVALID_NAME: 400 };

export async function handleSiteRemove(req: IncomingMessage, url: URL, deps: SiteRemoveDeps): Promise<ApiResponse> {
  const refused = refuseWrite(req, deps.token, 'removing sites', 'none');
  if (refused) return refused;
  let site: string;
  try {
    site = decodeURIComponent(url.pathname.slice(SITES_PATH_PREFIX.length));
  } catch {
    return { status: 400, body: { error: 'the site in the path is not valid URL encoding' } };
  }
  const force = url.searchParams.get('force') === 'true';
  try {
    const result = await removeSite(deps.topology, site, { force });
    deps.logger?.info(
      { site: result.site, force, statusKeys: result.statusKeys.length, from: req.socket.remoteAddress },
      'web: site removed',
    );
    return { status: 200, body: result };
  } catch (err) {
    const status = err instanceof FerryError ? STATUS_BY_CODE[err.code] : undefined;
    if (status !== undefined) return { status, body: { error: (err as FerryError).message } };
    throw err;
  }
}
