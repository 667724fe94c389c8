/**
 * Content Library subscriptions against a real vcsim: one simulator, a published source library
 * and a subscribed one (vcsim 0.24 does publish/subscribe only between libraries of one
 * simulator).
 *
 * What vcsim does, and so what these tests can show: the subscribed library SHARES the
 * publisher's items (same item ids, same files), so a sync is instant and deleting the item in
 * either library deletes it in both. An item deleted by hand therefore cannot come back by a
 * library sync alone; it comes back when the source holds it again (the source target's
 * reconcile re-imports it) and syncItem then finds and verifies it. vcsim also ignores PATCHes
 * of publish_info/subscription_info: a subscribed library pointing elsewhere is replaced.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startVcsim, type VcsimHandle } from '../../../test/world/vcsim.js';
import { VsphereError } from '../src/errors.js';
import {
  ensureSubscription,
  expectedFilesOf,
  SubscriptionError,
  subscribedItemState,
  syncItem,
} from '../src/transfer/subscription.js';
import { deleteSubscribedLibrary, getLibrary } from '../src/transfer/subscription-api.js';
import { ContentLibraryClient } from '../src/vcenter/content-library-client.js';

/** last_sync_time of a library or item, read by the test itself: vcsim's sync only stamps it. */
async function lastSyncTime(client: ContentLibraryClient, path: string): Promise<string | undefined> {
  return (await client.call<{ last_sync_time?: string }>('test get', 'GET', `/rest/com/vmware/content/${path}`))
    ?.last_sync_time;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

interface SourceFile {
  name: string;
  data: Buffer;
}

const imageFiles = (name: string): SourceFile[] => [
  { name: `${name}.ovf`, data: randomBytes(3000) },
  { name: `${name}-disk1.vmdk`, data: randomBytes(2 << 20) },
];

describe('Content Library subscriptions through vcsim', () => {
  let vc: VcsimHandle;
  let client: ContentLibraryClient;
  let sourceLibraryId: string;

  /** PUSH an item into the source library, as the importer of the source target does. */
  async function importIntoSource(name: string, files: SourceFile[]): Promise<string> {
    const itemId = await client.createItem(sourceLibraryId, { name, description: 'test image' });
    const session = await client.openUpdateSession(itemId);
    for (const f of files) {
      const url = await session.addFile({
        name: f.name,
        size: f.data.length,
        checksum: { algorithm: 'SHA256', checksum: sha256(f.data) },
      });
      await session.upload(url, Readable.from([f.data]), f.data.length);
    }
    await session.validate();
    await session.complete();
    return itemId;
  }

  /**
   * The bytes of a file of a shared item on vcsim's datastore. vcsim writes an upload under the
   * directory of whichever of the two libraries holding the item it finds first: look in both.
   */
  function datastoreBytes(libraryIds: string[], itemId: string, name: string): Buffer {
    const paths = libraryIds.map((id) => join(vc.datastorePath, `contentlib-${id}`, itemId, name));
    const found = paths.find((p) => existsSync(p));
    if (found === undefined) throw new Error(`no file ${name} of item ${itemId} on the datastore`);
    return readFileSync(found);
  }

  beforeAll(async () => {
    vc = await startVcsim();
    client = new ContentLibraryClient({ url: vc.url, username: vc.username, password: vc.password, insecure: true });
    sourceLibraryId = await client.ensureLibrary('golden', vc.datastoreId, { publish: true });
  });
  afterAll(async () => {
    await client?.logout();
    await vc?.stop();
  });

  const target = () => ({ client, libraryName: 'golden-sub', datastore: vc.datastoreId });

  it('subscribes a library to the published source and syncs an item: every file, right size and bytes', async () => {
    const files = imageFiles('img-1');
    const sourceItemId = await importIntoSource('img-1', files);

    const sub = await ensureSubscription({ source: { client, libraryId: sourceLibraryId }, target: target() });
    expect(sub.action).toBe('created');
    expect(sub.publishedNow).toBe(false);
    // vcsim's publish URL ends in the library id, as its subscription lookup needs.
    expect(sub.publishUrl).toBe(`${vc.url}/cls/vcsp/lib/${sourceLibraryId}`);
    const lib = await getLibrary(client, sub.subscribedLibraryId);
    expect(lib).toMatchObject({
      name: 'golden-sub',
      type: 'SUBSCRIBED',
      subscription: { subscriptionUrl: sub.publishUrl, onDemand: false, automaticSyncEnabled: true },
    });
    // Idempotent: the second call keeps the same library.
    const again = await ensureSubscription({ source: { client, libraryId: sourceLibraryId }, target: target() });
    expect(again).toMatchObject({ action: 'kept', subscribedLibraryId: sub.subscribedLibraryId });

    const expected = await expectedFilesOf(client, sourceItemId);
    expect(expected.map((f) => [f.name, f.size]).sort()).toEqual(files.map((f) => [f.name, f.data.length]).sort());
    const progress: number[] = [];
    const report = await syncItem({
      client,
      libraryId: sub.subscribedLibraryId,
      name: 'img-1',
      sourceItemId,
      expected,
      timeoutMs: 30_000,
      onProgress: (p) => progress.push(p.bytes),
    });
    const total = files.reduce((n, f) => n + f.data.length, 0);
    expect(report).toMatchObject({ state: 'ok', bytes: total, totalBytes: total, missingFiles: [], wrongFiles: [] });
    expect(progress.at(-1)).toBe(total);
    // The item sync reached vcsim (it only stamps the subscribed item).
    expect(await lastSyncTime(client, `library/item/id:${report.itemId}`)).toBeDefined();
    // The subscribed item's files hold the source's bytes (one copy on vcsim's datastore: shared).
    expect(report.itemId).toBeDefined();
    for (const f of files) {
      const bytes = datastoreBytes([sourceLibraryId, sub.subscribedLibraryId], report.itemId!, f.name);
      expect(sha256(bytes)).toBe(sha256(f.data));
    }
    const state = await subscribedItemState({ client, libraryId: sub.subscribedLibraryId, name: 'img-1' }, expected);
    expect(state.state).toBe('ok');
  });

  it('reports a file of the wrong size as incomplete, and syncItem gives up with a clear error', async () => {
    const sub = await ensureSubscription({ source: { client, libraryId: sourceLibraryId }, target: target() });
    const ref = { client, libraryId: sub.subscribedLibraryId, name: 'img-1' };
    const expected = await expectedFilesOf(client, (await client.findItemByName(sourceLibraryId, 'img-1'))!.id);
    const wrong = expected.map((f) => (f.name.endsWith('.vmdk') ? { ...f, size: f.size + 1 } : f));
    const state = await subscribedItemState(ref, wrong);
    expect(state.state).toBe('incomplete');
    expect(state.wrongFiles).toEqual([`img-1-disk1.vmdk (${2 << 20} bytes, expected ${(2 << 20) + 1})`]);

    const err = await syncItem({ ...ref, expected: wrong, timeoutMs: 1_500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SubscriptionError);
    expect(err).toMatchObject({ code: 'SUBSCRIPTION_SYNC_TIMEOUT', retryable: true });
    expect((err as Error).message).toMatch(/did not finish syncing in time; .*wrong: img-1-disk1\.vmdk/);

    const none = await syncItem({ ...ref, expected: [] }).catch((e: unknown) => e);
    expect(none).toMatchObject({ code: 'SUBSCRIPTION_BAD_REQUEST' });
  });

  it('detects a subscribed item deleted by hand and syncs it again once the source holds it again', async () => {
    const files = imageFiles('img-2');
    const firstSourceId = await importIntoSource('img-2', files);
    const sub = await ensureSubscription({ source: { client, libraryId: sourceLibraryId }, target: target() });
    const ref = { client, libraryId: sub.subscribedLibraryId, name: 'img-2' };
    const expected = await expectedFilesOf(client, firstSourceId);
    const synced = await syncItem({ ...ref, sourceItemId: firstSourceId, expected, timeoutMs: 30_000 });
    expect(synced.state).toBe('ok');

    // By hand, as an operator in the vSphere client would.
    await client.deleteItem(synced.itemId!);
    expect((await subscribedItemState(ref, expected)).state).toBe('missing');
    // vcsim shares items: the source lost it too, so a library sync cannot bring it back yet.
    expect(await client.getItem(firstSourceId)).toBeUndefined();
    const stuck = await syncItem({ ...ref, expected, timeoutMs: 1_500 }).catch((e: unknown) => e);
    expect(stuck).toMatchObject({ code: 'SUBSCRIPTION_ITEM_MISSING', retryable: true });
    expect(await lastSyncTime(client, `library/id:${sub.subscribedLibraryId}`)).toBeDefined();

    // The source target's reconcile re-imports the image; the subscribed target's sync repairs.
    const secondSourceId = await importIntoSource('img-2', files);
    const repaired = await syncItem({ ...ref, sourceItemId: secondSourceId, expected, timeoutMs: 30_000 });
    expect(repaired.state).toBe('ok');
    for (const f of files) {
      const bytes = datastoreBytes([sourceLibraryId, sub.subscribedLibraryId], repaired.itemId!, f.name);
      expect(sha256(bytes)).toBe(sha256(f.data));
    }
  });

  it('recreates a subscribed library deleted by hand, and replaces one pointing at another source', async () => {
    const first = await ensureSubscription({ source: { client, libraryId: sourceLibraryId }, target: target() });
    await deleteSubscribedLibrary(client, first.subscribedLibraryId);
    const recreated = await ensureSubscription({ source: { client, libraryId: sourceLibraryId }, target: target() });
    expect(recreated.action).toBe('created');
    expect(recreated.subscribedLibraryId).not.toBe(first.subscribedLibraryId);
    const expected = await expectedFilesOf(client, (await client.findItemByName(sourceLibraryId, 'img-1'))!.id);
    const ref = { client, libraryId: recreated.subscribedLibraryId, name: 'img-1' };
    expect((await syncItem({ ...ref, expected, timeoutMs: 30_000 })).state).toBe('ok');

    // Another published library; the target subscribed to it must come back to ours.
    const otherId = await client.ensureLibrary('other-golden', vc.datastoreId, { publish: true });
    const elsewhere = await ensureSubscription({ source: { client, libraryId: otherId }, target: target() });
    // vcsim ignores the PATCH of subscription_info, so ferry replaces the library it made.
    expect(elsewhere.action).toBe('recreated');
    expect(await subscribedItemState({ ...ref, libraryId: elsewhere.subscribedLibraryId }, expected)).toMatchObject({
      state: 'missing',
    });
    const back = await ensureSubscription({ source: { client, libraryId: sourceLibraryId }, target: target() });
    expect(back.action).toBe('recreated');
    expect((await getLibrary(client, back.subscribedLibraryId))?.subscription?.subscriptionUrl).toBe(back.publishUrl);
    const report = await syncItem({ ...ref, libraryId: back.subscribedLibraryId, expected, timeoutMs: 30_000 });
    expect(report.state).toBe('ok');
  });

  it('refuses a local library of the target name, an unpublishable source and a missing one', async () => {
    await client.ensureLibrary('not-a-subscription', vc.datastoreId);
    const conflict = await ensureSubscription({
      source: { client, libraryId: sourceLibraryId },
      target: { ...target(), libraryName: 'not-a-subscription' },
    }).catch((e: unknown) => e);
    expect(conflict).toMatchObject({ code: 'SUBSCRIPTION_TARGET_CONFLICT', retryable: false });
    expect((conflict as Error).message).toMatch(/"not-a-subscription".*LOCAL library.*choose another library name/);

    // ferry asks vCenter to publish it; vcsim ignores that update, and ferry says so.
    const unpublished = await client.ensureLibrary('unpublished', vc.datastoreId);
    const notPublished = await ensureSubscription({
      source: { client, libraryId: unpublished },
      target: { ...target(), libraryName: 'unpublished-sub' },
    }).catch((e: unknown) => e);
    expect(notPublished).toMatchObject({ code: 'SUBSCRIPTION_NOT_PUBLISHED' });
    expect((notPublished as Error).message).toMatch(/did not publish library "unpublished": enable publishing/);

    const missing = await ensureSubscription({
      source: { client, libraryId: '00000000-0000-0000-0000-000000000000' },
      target: target(),
    }).catch((e: unknown) => e);
    expect(missing).toMatchObject({ code: 'SUBSCRIPTION_SOURCE_MISSING', retryable: true });
    expect(missing).not.toBeInstanceOf(VsphereError);
  });
});
