/**
 * PULL transfers against a real vcsim: the agent's HTTPS listener serves byte ranges of a cached
 * OVA, vcsim GETs them itself (it does not check the thumbprint, checksum or HTTP status: the
 * client's own checks are what refuse a wrong certificate or a refused URL, see pull-transfer.ts).
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { get } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BuiltOva, buildOva, tarEntryOffsets } from '../../../test/world/ova.js';
import { startVcsim, type VcsimHandle } from '../../../test/world/vcsim.js';
import { type PullFile, PullServer, parseRange } from '../src/transfer/pull-server.js';
import { PullTransferError, pullIntoSession } from '../src/transfer/pull-transfer.js';
import { ContentLibraryClient } from '../src/vcenter/content-library-client.js';

async function sha256Of(s: Readable): Promise<string> {
  const h = createHash('sha256');
  for await (const c of s) h.update(c as Buffer);
  return h.digest('hex');
}

/** A GET to the listener as vCenter would make it (certificate not verified). */
function fetchStatus(url: string): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    get(url, { rejectUnauthorized: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

describe('PULL transfers through vcsim', () => {
  let vc: VcsimHandle;
  let client: ContentLibraryClient;
  let libraryId: string;
  let server: PullServer;
  let dir: string;
  let ova: BuiltOva;
  let files: PullFile[];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ferry-pull-'));
    [vc, ova, server] = await Promise.all([
      startVcsim(),
      buildOva(dir, { name: 'pulled', disks: 2, diskSize: 3 << 20 }),
      PullServer.start({ listen: '127.0.0.1:0' }),
    ]);
    const offsets = new Map((await tarEntryOffsets(ova.path)).map((e) => [e.name, e]));
    files = ova.files.map((f) => ({ ...f, path: ova.path, offset: offsets.get(f.name)!.offset }));
    client = new ContentLibraryClient({ url: vc.url, username: vc.username, password: vc.password, insecure: true });
    libraryId = await client.ensureLibrary('pulled-images', vc.datastoreId);
  });
  afterAll(async () => {
    await client?.logout();
    await server?.close();
    await vc?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('imports every entry of the cached OVA by PULL; the item holds the same bytes', async () => {
    const itemId = await client.createItem(libraryId, { name: 'pulled-1', description: 'test' });
    const reg = server.register(files, 60_000);
    expect(reg.thumbprint).toMatch(/^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
    expect(Object.keys(reg.urls)).toEqual(ova.files.map((f) => f.name));
    const session = await client.openUpdateSession(itemId);
    await pullIntoSession(session, reg, { timeoutMs: 30_000 });

    const listed = await client.listFiles(itemId);
    expect(listed.map((f) => [f.name, f.size]).sort()).toEqual(ova.files.map((f) => [f.name, f.size]).sort());
    for (const f of ova.files) expect(await sha256Of(await client.downloadFile(itemId, f.name))).toBe(f.sha256);
    expect(await client.listUpdateSessions({ activeOnly: true })).toEqual([]);
    // Revoked once done: the URLs no longer serve.
    expect((await fetchStatus(reg.urls[files[0]!.name]!)).status).toBe(410);
  });

  it("serves a session's own files only; other sessions' names, unknown tokens and expired URLs are refused", async () => {
    const [ovf, , disk] = files;
    const a = server.register([ovf!], 60_000);
    const b = server.register([disk!], 60_000);
    const good = await fetchStatus(a.urls[ovf!.name]!);
    expect(good.status).toBe(200);
    expect(createHash('sha256').update(good.body).digest('hex')).toBe(ovf!.sha256);

    // b's token with a's file name, and a's token with b's file name: not served.
    const bToken = new URL(b.urls[disk!.name]!).pathname.split('/')[2];
    expect((await fetchStatus(`${server.url}/pull/${bToken}/${encodeURIComponent(ovf!.name)}`)).status).toBe(404);
    expect((await fetchStatus(a.urls[ovf!.name]!.replace(ovf!.name, disk!.name))).status).toBe(404);
    expect((await fetchStatus(`${server.url}/pull/${'x'.repeat(43)}/${ovf!.name}`)).status).toBe(404);
    expect(bToken).toMatch(/^[A-Za-z0-9_-]{43}$/); // 256 random bits

    const expired = server.register([ovf!], 0);
    await new Promise((r) => setTimeout(r, 5));
    expect((await fetchStatus(expired.urls[ovf!.name]!)).status).toBe(410);
  });

  it('an expired registration fails the import instead of storing the refusal as the file', async () => {
    const itemId = await client.createItem(libraryId, { name: 'pulled-expired', description: 'test' });
    const reg = server.register(files, 0);
    await new Promise((r) => setTimeout(r, 5));
    const session = await client.openUpdateSession(itemId);
    await expect(pullIntoSession(session, reg, { timeoutMs: 30_000 })).rejects.toThrow(
      expect.objectContaining({ name: PullTransferError.name, code: 'PULL_INCOMPLETE' }),
    );
    expect(await client.getUpdateSession(session.id)).toBeUndefined(); // failed and removed
    expect(await client.listUpdateSessions({ activeOnly: true })).toEqual([]);
  });

  it('a thumbprint mismatch fails the session with a clear error before vCenter fetches anything', async () => {
    const itemId = await client.createItem(libraryId, { name: 'pulled-wrong-cert', description: 'test' });
    const reg = server.register(files, 60_000);
    const wrong = { ...reg, thumbprint: '00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33' };
    const session = await client.openUpdateSession(itemId);
    const failed = pullIntoSession(session, wrong, { timeoutMs: 30_000 });
    await expect(failed).rejects.toThrow(
      expect.objectContaining({ code: 'PULL_THUMBPRINT_MISMATCH', message: expect.stringContaining(reg.thumbprint) }),
    );
    await expect(failed).rejects.toThrow(/make pull\.url point at this agent's listener/);
    expect(await client.listUpdateSessions({ activeOnly: true })).toEqual([]);
    expect(await client.listFiles(itemId)).toEqual([]);
    expect(files.some((f) => reg.served(f.name))).toBe(false);
  });
});

describe('parseRange', () => {
  it.each([
    [undefined, 100, undefined],
    ['bytes=0-9', 100, [0, 9]],
    ['bytes=90-', 100, [90, 99]],
    ['bytes=-10', 100, [90, 99]],
    ['bytes=50-500', 100, [50, 99]],
    ['bytes=100-', 100, 'invalid'],
    ['bytes=9-3', 100, 'invalid'],
    ['bytes=0-1,5-6', 100, 'invalid'],
    ['items=0-1', 100, 'invalid'],
  ])('%j of %i bytes → %j', (header, size, expected) => {
    expect(parseRange(header, size)).toEqual(expected);
  });
});
