/**
 * Lenient reads of what a rollout needs from agents: heartbeats (which sites exist, their zone and
 * labels) and each site's status record for one image. Status records are read without the full
 * schema on purpose: newer agents add states (`checking`) and fields (`check`) that the rollout
 * only needs to recognise, not to validate.
 */
import {
  type Heartbeat,
  type Logger,
  listKeys,
  MessagingError,
  parseHeartbeat,
  type SiteIdentity,
  statusKey,
  type Topology,
} from '@ferry/shared';
import { z } from 'zod';
import type { SiteImageStatus } from './rollout-planner.js';

const siteImageStatusSchema = z.looseObject({
  state: z.string(),
  sha256: z.string(),
  error: z.looseObject({ code: z.string(), message: z.string() }).optional(),
  retryAt: z.string().optional(),
  check: z.looseObject({ passed: z.boolean() }).optional(),
});

export function readSiteImageStatus(value: unknown): SiteImageStatus | undefined {
  const r = siteImageStatusSchema.safeParse(value);
  if (!r.success) return undefined;
  const { state, sha256, error, retryAt, check } = r.data;
  return {
    state,
    sha256,
    ...(error ? { error: { code: error.code, message: error.message } } : {}),
    ...(retryAt ? { retryAt } : {}),
    ...(check ? { check: { passed: check.passed } } : {}),
  };
}

/**
 * Sites that run an agent, from `ferry_sites`, each once (a wave's site list and its events come
 * from here). Unparsable heartbeats are logged and skipped; of two heartbeats naming the same
 * site, the first key's counts.
 */
export async function readSites(topology: Topology, logger?: Logger): Promise<SiteIdentity[]> {
  const out = new Map<string, SiteIdentity>();
  for (const key of await listKeys(topology.sites, 'ferry_sites')) {
    const entry = await topology.sites.get(key).catch((err: unknown) => {
      throw new MessagingError(`cannot read ferry_sites ${key}: ${(err as Error).message}`, { cause: err });
    });
    if (entry?.operation !== 'PUT' || entry.length === 0) continue;
    let hb: Heartbeat;
    try {
      hb = parseHeartbeat(entry.json());
    } catch (err) {
      logger?.warn({ key, err: (err as Error).message }, 'invalid heartbeat skipped');
      continue;
    }
    if (out.has(hb.site)) logger?.warn({ key, site: hb.site }, 'second heartbeat for a site skipped');
    else out.set(hb.site, { site: hb.site, zone: hb.zone, labels: hb.labels });
  }
  return [...out.values()].sort((a, b) => a.site.localeCompare(b.site));
}

/** Each site's status record for one image version. */
export async function readImageStatuses(
  topology: Topology,
  sites: readonly SiteIdentity[],
  name: string,
  version: string,
): Promise<Map<string, SiteImageStatus>> {
  const out = new Map<string, SiteImageStatus>();
  await Promise.all(
    sites.map(async ({ site }) => {
      const entry = await topology.status.get(statusKey(site, name, version)).catch((err: unknown) => {
        throw new MessagingError(`cannot read the status of ${site}: ${(err as Error).message}`, { cause: err });
      });
      if (entry?.operation !== 'PUT' || entry.length === 0) return;
      const status = readSiteImageStatus(entry.json());
      if (status) out.set(site, status);
    }),
  );
  return out;
}
