/**
 * ContentLibraryClient against a real vcsim (govmomi's vCenter simulator) started by the test
 * world: no mocks. Uploaded bytes are checked on vcsim's datastore dir and via download sessions.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/support/wait.js';
import { startVcsim, type VcsimHandle } from '../../../test/world/vcsim.js';
import { UpdateSessionError, VsphereAuthError, VsphereError } from '../src/errors.js';
import { ContentLibraryClient, type UpdateSession } from '../src/vcenter/content-library-client.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function hashStream(s: Readable): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of s) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: h.digest('hex'), size };
}

/** Feed a buffer in 64 KiB chunks, as a file stream would. */
function chunked(buf: Buffer, chunk = 65536): Readable {
  return Readable.from(
    (function* () {
      for (let o = 0; o < buf.length; o += chunk) yield buf.subarray(o, o + chunk);
    })(),
  );
}

/** The test's own request to vcsim (not through the client). */
function rawCall(vc: VcsimHandle, method: string, path: string, sessionId: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, vc.url),
      { method, headers: { 'vmware-api-session-id': sessionId }, ca: readFileSync(vc.caFile) },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** The client's current REST session id: only the test peeks at it, to delete it server-side. */
const sessionOf = (c: ContentLibraryClient) =>
  (c as unknown as { rest: { sessionId: string | undefined } }).rest.sessionId;

describe('ContentLibraryClient against vcsim', () => {
  let vc: VcsimHandle;
  let client: ContentLibraryClient;
  let libraryId: string;

  const newClient = (extra: Partial<ConstructorParameters<typeof ContentLibraryClient>[0]> = {}) =>
    new ContentLibraryClient({
      url: vc.url,
      username: vc.username,
      password: vc.password,
      insecure: vc.insecure,
      ...extra,
    });

  beforeAll(async () => {
    vc = await startVcsim();
    client = newClient();
    await client.login();
    libraryId = await client.ensureLibrary('golden-images', vc.datastoreId);
  });
  afterAll(async () => {
    await client?.logout();
    await vc?.stop();
  });

  it('creates the library once, on the datastore', async () => {
    expect(await client.ensureLibrary('golden-images', vc.datastoreId)).toBe(libraryId);
    const [a, b] = await Promise.all([
      client.ensureLibrary('golden-images', vc.datastoreId),
      client.ensureLibrary('golden-images', vc.datastoreId),
    ]);
    expect([a, b]).toEqual([libraryId, libraryId]);
    expect(await client.findLibraryByName('golden-images')).toBe(libraryId);
    expect(await client.findLibraryByName('no-such-library')).toBeUndefined();
    expect(await client.listLibraries()).toEqual([libraryId]);
    expect(existsSync(join(vc.datastorePath, `contentlib-${libraryId}`))).toBe(true);
  });

  it('imports an item: two PUSHed files, validate, complete, list, download', async () => {
    const itemId = await client.createItem(libraryId, {
      name: 'ubuntu-22.04-2026.11.21',
      description: 'ferry:{"name":"ubuntu-22.04"}',
    });
    const item = await client.getItem(itemId);
    expect(item).toMatchObject({ id: itemId, name: 'ubuntu-22.04-2026.11.21', type: 'ovf' });
    expect(item?.description).toContain('ferry:');

    const ovf = Buffer.from('<?xml version="1.0"?><Envelope/>\n');
    const disk = randomBytes(5 * 1024 * 1024 + 123);
    const session = await client.openUpdateSession(itemId);
    expect(await client.listUpdateSessions()).toContain(session.id);

    const ovfUrl = await session.addFile({
      name: 'ubuntu.ovf',
      size: ovf.length,
      checksum: { algorithm: 'SHA256', checksum: sha256(ovf) },
    });
    const diskUrl = await session.addFile({ name: 'ubuntu-disk1.vmdk', size: disk.length });
    expect(ovfUrl).toMatch(/^https:\/\/127\.0\.0\.1:\d+\//);

    await session.upload(ovfUrl, chunked(ovf), ovf.length);
    let progress = 0;
    await session.upload(diskUrl, chunked(disk), disk.length, (n) => {
      progress = n;
    });
    expect(progress).toBe(disk.length);

    expect(await session.validate()).toEqual({ missingFiles: [], invalidFiles: [] });
    await session.complete();
    expect(await client.listUpdateSessions()).not.toContain(session.id);

    const files = await client.listFiles(itemId);
    expect(files.map((f) => [f.name, f.size]).sort()).toEqual([
      ['ubuntu-disk1.vmdk', disk.length],
      ['ubuntu.ovf', ovf.length],
    ]);

    // The bytes are on vcsim's datastore, in contentlib-<library>/<item>/<file>.
    const onDisk = readFileSync(join(vc.datastorePath, `contentlib-${libraryId}`, itemId, 'ubuntu-disk1.vmdk'));
    expect(sha256(onDisk)).toBe(sha256(disk));

    // And they come back through a download session.
    expect(await hashStream(await client.downloadFile(itemId, 'ubuntu-disk1.vmdk'))).toEqual({
      sha256: sha256(disk),
      size: disk.length,
    });
    expect((await hashStream(await client.downloadFile(itemId, 'ubuntu.ovf'))).sha256).toBe(sha256(ovf));

    const listed = await client.listItems(libraryId);
    expect(listed.map((i) => i.id)).toContain(itemId);
  });

  it('reports a wrong password as VsphereAuthError, without the password in the message', async () => {
    const bad = newClient({ password: 'not-the-password' });
    const err = await bad.login().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VsphereAuthError);
    expect((err as VsphereAuthError).code).toBe('VSPHERE_AUTH');
    expect((err as VsphereAuthError).retryable).toBe(false);
    expect((err as Error).message).toMatch(/username.*password/);
    expect((err as Error).message).not.toContain('not-the-password');
    // The first call of a client that never logged in reports the same error.
    await expect(bad.listItems(libraryId)).rejects.toBeInstanceOf(VsphereAuthError);
  });

  it('logs in again transparently when the server deleted its session', async () => {
    const old = sessionOf(client)!;
    expect(old).toBeTruthy();
    expect(await rawCall(vc, 'DELETE', '/rest/com/vmware/cis/session', old)).toBe(200);
    expect(await rawCall(vc, 'GET', '/rest/com/vmware/cis/session', old)).toBe(401);

    const items = await client.listItems(libraryId); // 401 -> login -> retry
    expect(Array.isArray(items)).toBe(true);
    expect(sessionOf(client)).not.toBe(old);
    expect(await rawCall(vc, 'GET', '/rest/com/vmware/cis/session', sessionOf(client)!)).toBe(200);
  });

  it('uploads after the session was deleted, and the keep-alive logs in again during a session', async () => {
    const c = newClient({ keepAliveMs: 100 });
    await c.login();
    const itemId = await c.createItem(libraryId, { name: 'keepalive-item', description: 'x' });
    const session = await c.openUpdateSession(itemId);
    try {
      // The session dies between calls: the upload's pre-check logs in again.
      await rawCall(vc, 'DELETE', '/rest/com/vmware/cis/session', sessionOf(c)!);
      const body = randomBytes(1024 * 1024);
      const url = await session.addFile({ name: 'a.vmdk', size: body.length });
      await rawCall(vc, 'DELETE', '/rest/com/vmware/cis/session', sessionOf(c)!);
      await session.upload(url, chunked(body), body.length);

      // Idle: the keep-alive timer notices the 401 and logs in again by itself.
      const before = sessionOf(c)!;
      await rawCall(vc, 'DELETE', '/rest/com/vmware/cis/session', before);
      // A new session id, not the moment in between when the old one is dropped and none is set.
      const renewed = await waitFor(
        () => {
          const id = sessionOf(c);
          return id !== undefined && id !== before ? id : undefined;
        },
        { what: 'the keep-alive timer to log in again', intervalMs: 25 },
      );
      expect(await rawCall(vc, 'GET', '/rest/com/vmware/cis/session', renewed)).toBe(200);

      await session.validate();
      await session.complete();
      expect((await c.listFiles(itemId)).map((f) => f.size)).toEqual([body.length]);
    } finally {
      await session.cancel();
      await c.logout();
    }
  });

  it('fail() leaves no open update session; validate() reports files never uploaded', async () => {
    const itemId = await client.createItem(libraryId, { name: 'failed-item', description: 'x' });
    const session: UpdateSession = await client.openUpdateSession(itemId);
    await session.addFile({ name: 'never.vmdk', size: 10 });
    const err = await session.validate().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpdateSessionError);
    expect((err as UpdateSessionError).missingFiles).toEqual(['never.vmdk']);
    expect((err as UpdateSessionError).sessionId).toBe(session.id);
    expect((err as Error).message).not.toContain(session.id);

    expect(await client.listUpdateSessions()).toContain(session.id);
    await session.fail('checksum mismatch in the OVA');
    expect(await client.listUpdateSessions()).not.toContain(session.id);
    expect(await client.listUpdateSessions({ activeOnly: true })).toEqual([]);
    await session.fail('again'); // best effort, never throws
    await session.cancel();
  });

  it('refuses a body that does not match the announced size', async () => {
    const itemId = await client.createItem(libraryId, { name: 'short-item', description: 'x' });
    const session = await client.openUpdateSession(itemId);
    try {
      const url = await session.addFile({ name: 'short.vmdk', size: 1000 });
      const err = await session.upload(url, chunked(Buffer.alloc(500)), 1000).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(VsphereError);
      expect((err as Error).message).toMatch(/500 of 1000 bytes/);
      await expect(session.validate()).rejects.toBeInstanceOf(UpdateSessionError);
    } finally {
      await session.fail('short body');
    }
    // vcsim is not stuck: other calls still work.
    expect(await client.getItem(itemId)).toBeDefined();
  });

  it('updates, lists many and deletes items', async () => {
    const ids = await Promise.all(
      Array.from({ length: 40 }, (_, i) => client.createItem(libraryId, { name: `bulk-${i}`, description: `d${i}` })),
    );
    const listed = await client.listItems(libraryId);
    expect(listed.filter((i) => i.name.startsWith('bulk-'))).toHaveLength(40);

    await client.updateItem(ids[0]!, { description: 'changed' });
    expect((await client.getItem(ids[0]!))?.description).toBe('changed');

    const dup = await client.createItem(libraryId, { name: 'bulk-0', description: '' }).catch((e: unknown) => e);
    expect(dup).toBeInstanceOf(VsphereError);
    expect((dup as VsphereError).code).toBe('VSPHERE_ALREADY_EXISTS');
    expect((dup as VsphereError).retryable).toBe(false);

    for (const id of ids) await client.deleteItem(id);
    expect(await client.getItem(ids[0]!)).toBeUndefined();
    await client.deleteItem(ids[0]!); // already gone: fine
    const after = await client.listItems(libraryId);
    expect(after.filter((i) => i.name.startsWith('bulk-'))).toHaveLength(0);
  });

  it('deleteItem removes the item and its files from the datastore', async () => {
    const itemId = await client.createItem(libraryId, { name: 'to-delete', description: 'x' });
    const session = await client.openUpdateSession(itemId);
    const body = randomBytes(4096);
    await session.upload(await session.addFile({ name: 'f.ovf', size: body.length }), chunked(body), body.length);
    await session.validate();
    await session.complete();
    const dir = join(vc.datastorePath, `contentlib-${libraryId}`, itemId);
    expect(existsSync(dir)).toBe(true);
    await client.deleteItem(itemId);
    expect(await client.getItem(itemId)).toBeUndefined();
    expect(existsSync(dir)).toBe(false);
  });

  it('streams a 64 MiB upload in 1 MiB chunks to a file of exactly that size', async () => {
    const size = 64 * 1024 * 1024;
    const block = randomBytes(1024 * 1024);
    const itemId = await client.createItem(libraryId, { name: 'big-item', description: 'x' });
    const session = await client.openUpdateSession(itemId);
    const url = await session.addFile({ name: 'big.vmdk', size });
    // Upload speed is measured by the bench (bench/scenarios/import.ts), not asserted.
    await session.upload(
      url,
      Readable.from(
        (function* () {
          for (let i = 0; i < 64; i++) yield block;
        })(),
      ),
      size,
    );
    await session.validate();
    await session.complete();
    expect(await client.listFiles(itemId)).toEqual([expect.objectContaining({ name: 'big.vmdk', size })]);
    await client.deleteItem(itemId);
  });

  it('maps network failures to retryable VsphereErrors and TLS failures to a hint', async () => {
    const down = new ContentLibraryClient({ url: 'https://127.0.0.1:1', username: 'u', password: 'p' });
    const err = await down.login().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VsphereError);
    expect((err as VsphereError).retryable).toBe(true);

    const strict = newClient({ insecure: false });
    const tls = await strict.login().catch((e: unknown) => e);
    expect(tls).toBeInstanceOf(VsphereError);
    expect((tls as VsphereError).retryable).toBe(false);
    expect((tls as Error).message).toMatch(/caFile|insecure/);

    // With vcsim's certificate as the CA, verification succeeds.
    const trusting = newClient({ insecure: false, ca: readFileSync(vc.caFile) });
    await trusting.login();
    await trusting.logout();
  });
});
