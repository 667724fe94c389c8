/**
 * Which sites exist, for commands that address one (`republish --site`, `reconcile --site`,
 * `suspend`/`resume`, `POST /api/republish`, `sites remove`): a site is known once its agent wrote
 * a heartbeat (`ferry_sites`) or a status record or reconcile report (`ferry_status`). A control
 * record alone does not count: that is what `ferry suspend --site <typo>` used to create.
 */
import { assertSiteId, listKeys, parseStatusKey, type Topology } from '@ferry/shared';
import { UnknownSiteError } from '../errors.js';

/** Said after the list of known sites, where the operator can override. */
export const FORCE_SITE_HINT = 'check the spelling, or pass --force to address a site that has not reported yet';

/** The site of a `ferry_status` key written by an agent, if it is one. */
export function siteOfAgentKey(key: string): string | undefined {
  if (key.endsWith('._reconcile')) return key.slice(0, -'._reconcile'.length);
  if (key.endsWith('._control')) return undefined;
  return parseStatusKey(key)?.site;
}

/** Every known site, sorted. */
export async function knownSites(topology: Pick<Topology, 'sites' | 'status'>): Promise<string[]> {
  const sites = new Set(await listKeys(topology.sites, 'ferry_sites'));
  for (const key of await listKeys(topology.status, 'ferry_status')) {
    const site = siteOfAgentKey(key);
    if (site) sites.add(site);
  }
  return [...sites].sort();
}

/**
 * The requested sites, deduplicated and checked (pure): each must be a valid id, and known unless
 * `force`. Throws UnknownSiteError (listing the known ones) for the first that is not.
 */
export function checkSites(
  requested: readonly string[],
  known: readonly string[],
  options: { force?: boolean; hint?: string } = {},
): string[] {
  const sites = [...new Set(requested)].map((s) => assertSiteId(s));
  if (options.force) return sites;
  const knownSet = new Set(known);
  const unknown = sites.find((s) => !knownSet.has(s));
  if (unknown !== undefined) throw new UnknownSiteError(unknown, known, options.hint ?? FORCE_SITE_HINT);
  return sites;
}

/** `checkSites` against the sites NATS knows; reads NATS only when sites were named. */
export async function assertKnownSites(
  topology: Pick<Topology, 'sites' | 'status'>,
  requested: readonly string[],
  options: { force?: boolean; hint?: string } = {},
): Promise<string[]> {
  if (requested.length === 0 || options.force) return checkSites(requested, [], { force: true });
  return checkSites(requested, await knownSites(topology), options);
}
