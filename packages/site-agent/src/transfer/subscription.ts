/**
 * Content Library subscriptions: import an image once into a source library, and let vSphere
 * replicate it into subscribed libraries (the `subscribe:` targets of a zone agent).
 *
 * - ensureSubscription: the source library is published, the target subscribed library exists,
 *   points at the source's publish URL and downloads content (not on demand).
 * - syncItem: trigger the sync of one item and watch until the subscribed item holds every file
 *   at the right size (and checksum where vCenter reports one), reporting bytes as progress.
 * - subscribedItemState: missing / incomplete / ok, for reconcile.
 *
 * vcsim 0.24 shares the publisher's items with the subscriber (see subscription-api.ts): a sync
 * there is instant, and an item deleted in the subscribed library is gone from the source too.
 */
import type { ErrorCode } from '@ferry/shared';
import { FerryError, type Logger, silentLogger } from '@ferry/shared';
import { VsphereError } from '../errors.js';
import { pollUntil } from '../poll.js';
import {
  type ContentLibraryClient,
  type LibraryFileInfo,
  type LibraryItemInfo,
  MANAGED_BY_FERRY,
} from '../vcenter/content-library-client.js';
import {
  createSubscribedLibrary,
  deleteSubscribedLibrary,
  getLibrary,
  publishLibrary,
  type SubscriptionSpec,
  syncLibrary,
  syncSubscribedItem,
  updateSubscription,
} from './subscription-api.js';
import {
  type ExpectedFile,
  judgeSubscribedItem,
  planSubscription,
  type SubscribedItemVerdict,
} from './subscription-verdict.js';

/** How long syncItem waits for vCenter by default: a sync copies a whole image between sites. */
export const DEFAULT_SYNC_TIMEOUT_MS = 30 * 60_000;

export type SubscriptionErrorCode = Extract<ErrorCode, `SUBSCRIPTION_${string}`>;

export class SubscriptionError extends FerryError {
  constructor(code: SubscriptionErrorCode, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(code, message, options);
  }
}

export interface EnsureSubscriptionOptions {
  source: {
    client: ContentLibraryClient;
    libraryId: string;
    /** Publish with BASIC authentication (user `vcsp`) and this password; default: no authentication. */
    password?: string;
  };
  target: {
    client: ContentLibraryClient;
    /** Name of the subscribed library (created if missing). */
    libraryName: string;
    /** Datastore id of its storage backing. */
    datastore: string;
    /** SHA-1 thumbprint of the source vCenter's certificate, when the target cannot validate its chain. */
    sslThumbprint?: string;
  };
  logger?: Logger;
}

export interface EnsuredSubscription {
  sourceLibraryId: string;
  publishUrl: string;
  subscribedLibraryId: string;
  /** Whether ferry published the source library just now. */
  publishedNow: boolean;
  /** What happened to the subscribed library. */
  action: 'created' | 'kept' | 'updated' | 'recreated';
}

/** Make sure the source library is published and the target library subscribes to it. */
export async function ensureSubscription(opts: EnsureSubscriptionOptions): Promise<EnsuredSubscription> {
  const { source, target } = opts;
  const log = (opts.logger ?? silentLogger()).child({ component: 'subscription', library: target.libraryName });
  const { publishUrl, publishedNow } = await ensurePublished(source, log);
  const spec: SubscriptionSpec = {
    subscriptionUrl: publishUrl,
    ...(source.password === undefined ? {} : { password: source.password }),
    ...(target.sslThumbprint === undefined ? {} : { sslThumbprint: target.sslThumbprint }),
  };
  const create = () =>
    createSubscribedLibrary(target.client, {
      name: target.libraryName,
      datastoreId: target.datastore,
      description: MANAGED_BY_FERRY,
      subscription: spec,
    });
  const done = (subscribedLibraryId: string, action: EnsuredSubscription['action']): EnsuredSubscription => {
    if (action !== 'kept') log.info({ subscribedLibraryId, publishUrl, action }, 'subscribed library set up');
    return { sourceLibraryId: source.libraryId, publishUrl, subscribedLibraryId, publishedNow, action };
  };

  const existingId = await target.client.findLibraryByName(target.libraryName);
  const existing = existingId === undefined ? undefined : await getLibrary(target.client, existingId);
  const plan = planSubscription(existing, publishUrl);
  if (plan.action === 'create' || existing === undefined) return done(await create(), 'created');
  if (plan.action === 'keep') return done(existing.id, 'kept');
  if (plan.action === 'conflict') {
    throw new SubscriptionError(
      'SUBSCRIPTION_TARGET_CONFLICT',
      `cannot subscribe ${JSON.stringify(target.libraryName)}: ${plan.reason}; choose another library name for this target or remove that library`,
    );
  }
  log.info({ reason: plan.reason }, 'subscribed library points elsewhere: updating its subscription');
  await updateSubscription(target.client, existing.id, spec);
  const after = planSubscription(await getLibrary(target.client, existing.id), publishUrl);
  if (after.action === 'keep') return done(existing.id, 'updated');
  // vCenter kept the old subscription (vcsim ignores the update). A subscribed library holds only
  // copies that a sync restores, so replacing one that ferry made loses nothing.
  if (existing.description !== MANAGED_BY_FERRY) {
    throw new SubscriptionError(
      'SUBSCRIPTION_TARGET_CONFLICT',
      `subscribed library ${JSON.stringify(target.libraryName)} was not created by ferry and vCenter did not re-point it (${'reason' in after ? after.reason : after.action}); point it at ${publishUrl} in vCenter or remove it`,
    );
  }
  log.warn({ reason: plan.reason }, 'vCenter did not re-point the subscribed library: replacing it');
  await deleteSubscribedLibrary(target.client, existing.id);
  return done(await create(), 'recreated');
}

async function ensurePublished(
  source: EnsureSubscriptionOptions['source'],
  log: Logger,
): Promise<{ publishUrl: string; publishedNow: boolean }> {
  const lib = await getLibrary(source.client, source.libraryId);
  if (lib === undefined) {
    throw new SubscriptionError(
      'SUBSCRIPTION_SOURCE_MISSING',
      `source library ${source.libraryId} does not exist in ${source.client.url}; the subscribed target follows a library that its source target must create first`,
      { retryable: true },
    );
  }
  if (lib.publish?.published && lib.publish.publishUrl)
    return { publishUrl: lib.publish.publishUrl, publishedNow: false };
  await publishLibrary(source.client, source.libraryId, source.password);
  const again = await getLibrary(source.client, source.libraryId);
  const url = again?.publish?.published ? again.publish.publishUrl : undefined;
  if (url === undefined) {
    throw new SubscriptionError(
      'SUBSCRIPTION_NOT_PUBLISHED',
      `vCenter ${source.client.url} did not publish library ${JSON.stringify(lib.name)}: enable publishing in its settings (vcsim only publishes a library created published)`,
    );
  }
  log.info({ sourceLibrary: lib.name, publishUrl: url }, 'published the source library');
  return { publishUrl: url, publishedNow: true };
}

/** One item of a subscribed library: the library, the item's name and, where known, its source item. */
export interface SubscribedItemRef {
  client: ContentLibraryClient;
  /** The subscribed library. */
  libraryId: string;
  /** Name of the item (the same in the source and the subscribed library). */
  name: string;
  /** The source item's id: a subscribed item synced from another one (`source_id`) is stale. */
  sourceItemId?: string;
}

export interface SubscribedItemReport extends SubscribedItemVerdict {
  /** The subscribed item, when there is one. */
  itemId?: string;
}

/** missing / incomplete / ok of one subscribed item against the files it must hold. */
export async function subscribedItemState(
  ref: SubscribedItemRef,
  expected: readonly ExpectedFile[],
): Promise<SubscribedItemReport> {
  const item = await ref.client.findItemByName(ref.libraryId, ref.name);
  const files = item === undefined ? undefined : await filesOrUndefined(ref.client, item.id);
  if (item === undefined || files === undefined) return judgeSubscribedItem(expected, undefined);
  const verdict = judgeSubscribedItem(expected, files);
  if (isStale(ref, item)) {
    verdict.state = 'incomplete';
    verdict.wrongFiles.push(`synced from source item ${item.sourceId}, not ${ref.sourceItemId}`);
  }
  return { ...verdict, itemId: item.id };
}

/** The files of a (source) item, as the files its subscribed copies must hold. */
export async function expectedFilesOf(client: ContentLibraryClient, itemId: string): Promise<ExpectedFile[]> {
  if ((await client.getItem(itemId)) === undefined) {
    throw new SubscriptionError(
      'SUBSCRIPTION_SOURCE_MISSING',
      `source item ${itemId} does not exist in ${client.url}`,
      {
        retryable: true,
      },
    );
  }
  return (await client.listFiles(itemId)).map((f) => ({
    name: f.name,
    size: f.size,
    ...(f.checksum ? { checksum: f.checksum } : {}),
  }));
}

export interface SyncItemOptions extends SubscribedItemRef {
  /** The files the subscribed item must hold (e.g. expectedFilesOf(source item)). */
  expected: readonly ExpectedFile[];
  /** Give up after this long; default DEFAULT_SYNC_TIMEOUT_MS. */
  timeoutMs?: number;
  /** Bytes of the expected files held so far, called when it changes. */
  onProgress?: (progress: { bytes: number; totalBytes: number }) => void;
  signal?: AbortSignal;
  logger?: Logger;
}

/**
 * Sync one item into the subscribed library and wait until it holds every expected file. A
 * missing item first gets a library sync (that is how a new source item reaches subscribers).
 */
export async function syncItem(opts: SyncItemOptions): Promise<SubscribedItemReport> {
  if (opts.expected.length === 0) {
    throw new SubscriptionError(
      'SUBSCRIPTION_BAD_REQUEST',
      `syncItem(${JSON.stringify(opts.name)}) was given no expected files: pass the source item's files`,
    );
  }
  const log = (opts.logger ?? silentLogger()).child({ component: 'subscription', item: opts.name });
  const deadline = Date.now() + (opts.timeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS);
  const left = () => Math.max(0, deadline - Date.now());
  const poll = { ...(opts.signal ? { signal: opts.signal } : {}) };

  let item = await opts.client.findItemByName(opts.libraryId, opts.name);
  if (item === undefined || isStale(opts, item)) {
    await syncLibrary(opts.client, opts.libraryId);
    item = await pollUntil(
      async () => {
        const found = await opts.client.findItemByName(opts.libraryId, opts.name);
        return found === undefined || isStale(opts, found) ? undefined : found;
      },
      {
        ...poll,
        timeoutMs: left(),
        onTimeout: () =>
          new SubscriptionError(
            'SUBSCRIPTION_ITEM_MISSING',
            `item ${JSON.stringify(opts.name)} did not appear in subscribed library ${opts.libraryId} after a library sync: check that the source library still holds it`,
            { retryable: true },
          ),
      },
    );
  }
  const itemId = item.id;
  await syncSubscribedItem(opts.client, itemId, opts.libraryId);
  log.info({ itemId }, 'sync of the subscribed item requested');

  let last: SubscribedItemReport | undefined;
  const report = await pollUntil(
    async () => {
      const now = await subscribedItemState(opts, opts.expected);
      if (now.state === 'missing') {
        throw new SubscriptionError(
          'SUBSCRIPTION_ITEM_MISSING',
          `item ${JSON.stringify(opts.name)} disappeared from subscribed library ${opts.libraryId} during its sync`,
          { retryable: true },
        );
      }
      if (last === undefined || now.bytes !== last.bytes)
        opts.onProgress?.({ bytes: now.bytes, totalBytes: now.totalBytes });
      last = now;
      return now.state === 'ok' ? now : undefined;
    },
    {
      ...poll,
      timeoutMs: left(),
      onTimeout: () =>
        new SubscriptionError('SUBSCRIPTION_SYNC_TIMEOUT', timeoutMessage(opts.name, last), { retryable: true }),
    },
  );
  log.info({ itemId, bytes: report.bytes }, 'subscribed item holds every file');
  return report;
}

/** The item's files; undefined when the item went away since it was found. */
async function filesOrUndefined(client: ContentLibraryClient, itemId: string): Promise<LibraryFileInfo[] | undefined> {
  try {
    return await client.listFiles(itemId);
  } catch (err) {
    if (err instanceof VsphereError && err.code === 'VSPHERE_NOT_FOUND') return undefined;
    throw err;
  }
}

function isStale(ref: SubscribedItemRef, item: LibraryItemInfo): boolean {
  return ref.sourceItemId !== undefined && item.sourceId !== undefined && item.sourceId !== ref.sourceItemId;
}

function timeoutMessage(name: string, last: SubscribedItemReport | undefined): string {
  const parts = [`subscribed item ${JSON.stringify(name)} did not finish syncing in time`];
  if (last) {
    parts.push(`${last.bytes} of ${last.totalBytes} bytes held`);
    if (last.missingFiles.length) parts.push(`missing: ${last.missingFiles.join(', ')}`);
    if (last.wrongFiles.length) parts.push(`wrong: ${last.wrongFiles.join(', ')}`);
  }
  return `${parts.join('; ')}; check the subscribed library's sync in vCenter`;
}
