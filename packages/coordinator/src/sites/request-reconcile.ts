import type { EventBus, PublishedEvent, Topology } from '@ferry/shared';
import { assertKnownSites } from './known-sites.js';

/**
 * `ferry reconcile [--site S]… [--force]`: asks every agent (or the named ones) to reconcile now.
 * A named site must be known (known-sites.ts) unless `force`.
 */
export async function requestReconcile(
  deps: { bus: EventBus; topology: Pick<Topology, 'sites' | 'status'> },
  sites: readonly string[] = [],
  options: { force?: boolean } = {},
): Promise<PublishedEvent[]> {
  const named = await assertKnownSites(deps.topology, sites, options);
  const targets = named.length > 0 ? named : ['all'];
  const events: PublishedEvent[] = [];
  for (const target of targets) events.push(await deps.bus.publish(target, { kind: 'reconcile' }));
  return events;
}
