/**
 * The zone's download cache: several targets wanting one sha256 share one download (one store
 * GET, one growing file), one target giving up does not stop it for the others, and a held file
 * survives LRU eviction. A file store (a directory) stands in for the zone's store.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { createStore, type ObjectStore } from '@ferry/shared';
import { DownloadCache } from '@ferry/site-agent/internal';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-cache-share-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A file store that counts GETs and can hold the first one's body until released. */
async function countingStore(): Promise<{ store: ObjectStore; gets: () => number; release: () => void }> {
  const inner = createStore({ type: 'file', root: join(dir, 'store') });
  let gets = 0;
  let release!: () => void;
  const held = new Promise<void>((r) => {
    release = r;
  });
  const store: ObjectStore = {
    description: inner.description,
    head: (p) => inner.head(p),
    put: (p, b, o) => inner.put(p, b, o),
    list: (p) => inner.list(p),
    delete: (p) => inner.delete(p),
    probe: () => inner.probe(),
    async get(p, range) {
      gets++;
      const body: Readable = await inner.get(p, range);
      const out = new PassThrough();
      held.then(
        () => body.pipe(out),
        (err: unknown) => out.destroy(err as Error),
      );
      return out;
    },
  };
  return { store, gets: () => gets, release };
}

async function object(store: ObjectStore, size: number) {
  const bytes = randomBytes(size);
  const ref = { artifact: 'img/1/img.ova', sha256: createHash('sha256').update(bytes).digest('hex'), size };
  await store.put(ref.artifact, new PassThrough().end(bytes), { size });
  return ref;
}

describe('download cache shared by a zone', () => {
  it('three callers of one sha256: one GET, one growing file, every caller gets the proven file', async () => {
    const { store, gets, release } = await countingStore();
    const ref = await object(store, 3 << 20);
    const cache = new DownloadCache({ dir: join(dir, 'cache'), maxBytes: 1 << 30 });
    const files = new Set<unknown>();
    const fetches = [1, 2, 3].map(() => cache.fetch(store, ref, { onOpen: (f) => files.add(f) }));
    release();
    const results = await Promise.all(fetches);
    expect(gets()).toBe(1);
    expect(files.size).toBe(1);
    expect(results.map((r) => r.path)).toEqual([1, 2, 3].map(() => cache.finalPath(ref.sha256)));
    // The store's bytes are counted once, by the caller that downloaded.
    expect(results.map((r) => r.bytesFromStore).sort()).toEqual([0, 0, ref.size]);
  });

  it('one caller giving up leaves the download to the others; all giving up stops it', async () => {
    const { store, release } = await countingStore();
    const ref = await object(store, 1 << 20);
    const cache = new DownloadCache({ dir: join(dir, 'cache'), maxBytes: 1 << 30 });
    const quitter = new AbortController();
    const first = cache.fetch(store, ref, { signal: quitter.signal });
    const second = cache.fetch(store, ref);
    quitter.abort(new Error('target retired'));
    release();
    await expect(second).resolves.toMatchObject({ sha256: ref.sha256 });
    await expect(first).resolves.toMatchObject({ sha256: ref.sha256 });

    const { store: store2 } = await countingStore(); // never released: the download hangs until stopped
    const ref2 = await object(store2, 1 << 20);
    const a = new AbortController();
    const b = new AbortController();
    const both = [a, b].map((c) => cache.fetch(store2, ref2, { signal: c.signal }));
    a.abort(new Error('a stops'));
    b.abort(new Error('b stops'));
    for (const p of both) await expect(p).rejects.toThrow();
  });

  it('a held file is not evicted to make room; released, it is', async () => {
    const { store, release } = await countingStore();
    release();
    const small = await object(store, 600 << 10);
    const cache = new DownloadCache({ dir: join(dir, 'cache'), maxBytes: 1 << 20 });
    (await cache.fetch(store, small)).release();
    const letGo = cache.hold(small.sha256);
    const other = { ...(await object(store, 600 << 10)), artifact: 'img/2/img.ova' };
    await store.put(other.artifact, await store.get('img/1/img.ova'), { size: other.size });
    await expect(cache.fetch(store, other)).rejects.toThrow(/cache full/);
    letGo();
    await expect(cache.fetch(store, other)).resolves.toMatchObject({ sha256: other.sha256 });
    expect(await readdir(join(dir, 'cache'))).toEqual([`${other.sha256}.ova`]);
  });
});
