import { assertSiteId, type EventBus, type PublishedEvent } from '@ferry/shared';

/** `ferry reconcile [--site S]…`: asks every agent (or the named ones) to reconcile now. */
export async function requestReconcile(bus: EventBus, sites: readonly string[] = []): Promise<PublishedEvent[]> {
  const targets = sites.length > 0 ? [...new Set(sites)].map((s) => assertSiteId(s)) : ['all'];
  const events: PublishedEvent[] = [];
  for (const target of targets) events.push(await bus.publish(target, { kind: 'reconcile' }));
  return events;
}
