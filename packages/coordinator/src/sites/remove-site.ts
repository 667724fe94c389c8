/**
 * `ferry sites remove <site>` / `DELETE /api/sites/<site>`: forgets a decommissioned site. Its
 * heartbeat (`ferry_sites.<site>`), its control record and every status record and reconcile
 * report (`ferry_status.<site>.>`) are purged, so it leaves `ferry status`, `ferry sites` and the
 * web page. Refused while the site's agent still sends heartbeats (it would come straight back),
 * unless forced.
 */
import {
  assertSiteId,
  HEARTBEAT_STALE_MS,
  listKeys,
  MessagingError,
  parseHeartbeat,
  siteKey,
  type Topology,
} from '@ferry/shared';
import { SiteActiveError, UnknownSiteError } from '../errors.js';
import { knownSites } from './known-sites.js';

export interface RemoveSiteResult {
  site: string;
  /** A heartbeat was removed. */
  heartbeat: boolean;
  /** Keys removed from `ferry_status` (status records, reconcile report, control record). */
  statusKeys: string[];
}

/** Seconds since the heartbeat, or undefined when there is none or it does not parse. */
function heartbeatAgeMs(value: unknown, now: Date): number | undefined {
  try {
    return now.getTime() - Date.parse(parseHeartbeat(value).lastSeen);
  } catch {
    return undefined;
  }
}

export async function removeSite(
  topology: Pick<Topology, 'sites' | 'status'>,
  site: string,
  options: { force?: boolean; now?: Date } = {},
): Promise<RemoveSiteResult> {
  const id = assertSiteId(site);
  const now = options.now ?? new Date();
  const fail = (what: string, err: unknown) =>
    new MessagingError(`cannot ${what} for site ${id}: ${(err as Error).message}`, { cause: err });

  const entry = await topology.sites.get(siteKey(id)).catch((err: unknown) => {
    throw fail('read the heartbeat', err);
  });
  const hasHeartbeat = entry?.operation === 'PUT' && entry.length > 0;
  if (hasHeartbeat && !options.force) {
    let value: unknown;
    try {
      value = entry.json();
    } catch {
      value = undefined;
    }
    const age = heartbeatAgeMs(value, now);
    if (age !== undefined && age < HEARTBEAT_STALE_MS) {
      throw new SiteActiveError(
        `site ${id} is alive (last heartbeat ${Math.max(0, Math.round(age / 1000))} s ago): stop its agent first, or pass --force`,
      );
    }
  }

  const statusKeys = await listKeys(topology.status, `the status records for site ${id}`, `${id}.>`);
  if (!hasHeartbeat && statusKeys.length === 0) {
    throw new UnknownSiteError(id, await knownSites(topology), 'nothing to remove');
  }
  for (const key of statusKeys) {
    await topology.status.purge(key).catch((err: unknown) => {
      throw fail(`remove ${key}`, err);
    });
  }
  if (hasHeartbeat) {
    await topology.sites.purge(siteKey(id)).catch((err: unknown) => {
      throw fail('remove the heartbeat', err);
    });
  }
  return { site: id, heartbeat: hasHeartbeat, statusKeys: statusKeys.sort() };
}
