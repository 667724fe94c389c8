/**
 * The Content Library REST calls of publish/subscribe, on top of ContentLibraryClient's one JSON
 * call (session, re-login, error mapping). Kept apart from the client, which is about importing.
 *
 * vcsim 0.24 (govmomi vapi/simulator) implements part of this: a library created with
 * `publish_info.published` gets a `publish_url` ending in its id; a subscribed library created
 * with that URL shares the publisher's items (same ids, same files; a delete in one shows in
 * the other); library and item `sync` only stamp `last_sync_time`. Updates (PATCH) of
 * `publish_info` or `subscription_info` are accepted and ignored.
 */
import { randomUUID } from 'node:crypto';
import { VsphereError } from '../errors.js';
import type { ContentLibraryClient } from '../vcenter/content-library-client.js';
import { VAPI_PATHS as P } from '../vcenter/vapi-wire.js';

/** The user name vCenter fixes for BASIC authentication of a published library. */
const PUBLISH_USER = 'vcsp';

export interface LibraryInfo {
  id: string;
  name: string;
  /** LOCAL or SUBSCRIBED */
  type: string;
  description: string;
  publish?: { published: boolean; publishUrl?: string; authenticationMethod?: string };
  subscription?: {
    subscriptionUrl?: string;
    onDemand?: boolean;
    automaticSyncEnabled?: boolean;
    authenticationMethod?: string;
  };
}

/** Where a subscribed library syncs from, and how it authenticates there. */
export interface SubscriptionSpec {
  subscriptionUrl: string;
  /** Password of the publisher's BASIC authentication; none means NONE. Never logged. */
  password?: string;
  /** SHA-1 thumbprint of the publisher's certificate; without it vCenter validates the chain. */
  sslThumbprint?: string;
}

interface RawLibrary {
  id?: string;
  name?: string;
  type?: string;
  description?: string;
  publish_info?: { published?: boolean; publish_url?: string; authentication_method?: string };
  subscription_info?: {
    subscription_url?: string;
    on_demand?: boolean;
    automatic_sync_enabled?: boolean;
    authentication_method?: string;
  };
}

/** A library's type, publication and subscription; undefined when it does not exist. */
export async function getLibrary(client: ContentLibraryClient, id: string): Promise<LibraryInfo | undefined> {
  const raw = await client.call<RawLibrary>('get library', 'GET', `${P.library}/id:${id}`, { allow404: true });
  if (raw === undefined) return undefined;
  const info: LibraryInfo = { id, name: raw.name ?? '', type: raw.type ?? 'LOCAL', description: raw.description ?? '' };
  const pub = raw.publish_info;
  if (pub) {
    info.publish = { published: pub.published === true };
    if (pub.publish_url) info.publish.publishUrl = pub.publish_url;
    if (pub.authentication_method) info.publish.authenticationMethod = pub.authentication_method;
  }
  const sub = raw.subscription_info;
  if (sub) {
    info.subscription = {};
    if (sub.subscription_url) info.subscription.subscriptionUrl = sub.subscription_url;
    if (typeof sub.on_demand === 'boolean') info.subscription.onDemand = sub.on_demand;
    if (typeof sub.automatic_sync_enabled === 'boolean') {
      info.subscription.automaticSyncEnabled = sub.automatic_sync_enabled;
    }
    if (sub.authentication_method) info.subscription.authenticationMethod = sub.authentication_method;
  }
  return info;
}

/** Publish a local library (BASIC with `password`, else no authentication). */
export async function publishLibrary(client: ContentLibraryClient, id: string, password?: string): Promise<void> {
  const publish_info =
    password === undefined
      ? { published: true, authentication_method: 'NONE' }
      : { published: true, authentication_method: 'BASIC', user_name: PUBLISH_USER, password };
  await client.call('publish library', 'PATCH', `${P.localLibrary}/id:${id}`, {
    json: { update_spec: { publish_info } },
  });
}

/** Create a subscribed library on `datastoreId` that downloads every item's content (not on demand). */
export async function createSubscribedLibrary(
  client: ContentLibraryClient,
  spec: { name: string; datastoreId: string; description: string; subscription: SubscriptionSpec },
): Promise<string> {
  const id = await client.call<string>('create subscribed library', 'POST', P.subscribedLibrary, {
    json: {
      client_token: randomUUID(),
      create_spec: {
        name: spec.name,
        description: spec.description,
        type: 'SUBSCRIBED',
        storage_backings: [{ type: 'DATASTORE', datastore_id: spec.datastoreId }],
        subscription_info: subscriptionInfo(spec.subscription),
      },
    },
  });
  if (typeof id !== 'string') throw new VsphereError('create subscribed library', 'no library id in the answer');
  return id;
}

/** Point an existing subscribed library at another publisher (or fix its sync settings). */
export async function updateSubscription(
  client: ContentLibraryClient,
  id: string,
  subscription: SubscriptionSpec,
): Promise<void> {
  await client.call('update subscription', 'PATCH', `${P.subscribedLibrary}/id:${id}`, {
    json: { update_spec: { subscription_info: subscriptionInfo(subscription) } },
  });
}

/** Delete a subscribed library and its synced copies; one already gone is fine. */
export async function deleteSubscribedLibrary(client: ContentLibraryClient, id: string): Promise<void> {
  await client.call('delete subscribed library', 'DELETE', `${P.subscribedLibrary}/id:${id}`, { allow404: true });
}

/** Ask vCenter to sync a subscribed library now: new items of the publisher appear in it. */
export async function syncLibrary(client: ContentLibraryClient, id: string): Promise<void> {
  await client.call('sync subscribed library', 'POST', `${P.subscribedLibrary}/id:${id}`, {
    searchParams: { '~action': 'sync' },
  });
}

/** Ask vCenter to sync one subscribed item, content included. */
export async function syncSubscribedItem(
  client: ContentLibraryClient,
  itemId: string,
  subscribedLibraryId: string,
): Promise<void> {
  const path = `${P.subscribedItem}/id:${itemId}`;
  const json = { force_sync_content: true };
  try {
    await client.call('sync subscribed item', 'POST', path, { searchParams: { '~action': 'sync' }, json });
  } catch (err) {
    if (!(err instanceof VsphereError) || err.code !== 'VSPHERE_NOT_FOUND') throw err;
    // vcsim finds an item's library by walking its libraries in random order, and a shared item
    // is in both the publisher (where sync answers 404) and the subscriber: name the library.
    await client.call('sync subscribed item', 'POST', path, {
      searchParams: { '~action': 'sync', library_id: subscribedLibraryId },
      json,
    });
  }
}

function subscriptionInfo(s: SubscriptionSpec): Record<string, unknown> {
  return {
    subscription_url: s.subscriptionUrl,
    // Content is downloaded when the item syncs, not when someone first deploys it.
    on_demand: false,
    automatic_sync_enabled: true,
    ...(s.password === undefined
      ? { authentication_method: 'NONE' }
      : { authentication_method: 'BASIC', user_name: PUBLISH_USER, password: s.password }),
    ...(s.sslThumbprint === undefined ? {} : { ssl_thumbprint: s.sslThumbprint }),
  };
}
