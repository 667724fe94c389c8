/**
 * One table of behaviour tests run against every store adapter, each on a real server:
 * S3Store on s3rver, ArtifactoryStore on the Artifactory stand-in, FileStore on a temp dir.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startArtifactoryStandin } from '../../../test/world/artifactory-standin.js';
import { startFaultProxy } from '../../../test/world/fault-proxy.js';
import { startS3 } from '../../../test/world/s3.js';
import {
  ArtifactoryStore,
  type ByteRange,
  FileStore,
  HttpGetError,
  httpGetInto,
  InvalidNameError,
  NotFoundError,
  normalizeStorePath,
  normalizeStorePrefix,
  type ObjectStore,
  partSizeFor,
  S3Store,
  StoreError,
} from '../src/index.js';

const MiB = 1024 * 1024;
const BIG = randomBytes(20 * MiB);
const BIG_SHA256 = createHash('sha256').update(BIG).digest('hex');

/** The big object as a stream of 1 MiB chunks (never one buffer handed to the store). */
function bigStream(): Readable {
  return Readable.from(
    (function* () {
      for (let off = 0; off < BIG.length; off += MiB) yield BIG.subarray(off, off + MiB);
    })(),
    { objectMode: false },
  );
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The object (or `range` of it) through the store's plain HTTP GET into a reused buffer; its errors as the store's. */
async function httpGetAll(store: ObjectStore, path: string, range?: ByteRange): Promise<Buffer> {
  const plan = await store.httpGet!(path, range);
  const parts: Buffer[] = [];
  const sink = {
    take: (chunk: Buffer) => parts.push(Buffer.from(chunk)) && chunk.length,
    room: async () => {},
  };
  try {
    await httpGetInto(plan.request, sink, { expect: range ? 206 : 200, bufferBytes: 64 << 10 });
  } catch (err) {
    throw err instanceof HttpGetError ? plan.fail(err) : err;
  }
  return Buffer.concat(parts);
}

async function collect(it: AsyncIterable<{ path: string }>): Promise<string[]> {
  const out: string[] = [];
  for await (const o of it) out.push(o.path);
  return out.sort();
}

interface StoreCase {
  name: string;
  /** Whether head() reports the sha256 of an object put with one. */
  sha256: boolean;
  /** `missing`: the same server with a bucket, repository or root that does not exist. */
  start(): Promise<{ store: ObjectStore; missing: ObjectStore; stop(): Promise<void> }>;
  /** What the probe error of `missing` names. */
  missingName: RegExp;
}

const cases: StoreCase[] = [
  {
    name: 'S3Store on s3rver',
    sha256: true,
    start: async () => {
      const s3 = await startS3({ bucket: 'images' });
      const store = new S3Store({
        endpoint: s3.endpoint,
        bucket: s3.bucket,
        region: s3.region,
        forcePathStyle: true,
        prefix: 'ferry',
        accessKeyId: s3.accessKeyId,
        secretAccessKey: s3.secretAccessKey,
      });
      const missing = new S3Store({
        endpoint: s3.endpoint,
        bucket: 'no-such-bucket',
        region: s3.region,
        forcePathStyle: true,
        accessKeyId: s3.accessKeyId,
        secretAccessKey: s3.secretAccessKey,
      });
      return { store, missing, stop: () => s3.destroy() };
    },
    missingName: /bucket no-such-bucket does not exist: create it or fix store\.bucket/,
  },
  {
    name: 'ArtifactoryStore on the Artifactory stand-in',
    sha256: true,
    start: async () => {
      const art = await startArtifactoryStandin({ repo: 'images-generic', token: 'tok-ABCDEF-123456' });
      const store = new ArtifactoryStore({ url: art.url, repo: art.repo, token: art.token });
      const missing = new ArtifactoryStore({ url: art.url, repo: 'no-such-repo', token: art.token });
      return { store, missing, stop: () => art.stop() };
    },
    missingName: /repository no-such-repo does not exist: create it or fix store\.repo/,
  },
  {
    name: 'FileStore on a temp dir',
    sha256: false,
    start: async () => {
      const root = await mkdtemp(join(tmpdir(), 'ferry-filestore-'));
      return {
        store: new FileStore({ root }),
        missing: new FileStore({ root: join(root, 'no-such-dir') }),
        stop: () => rm(root, { recursive: true, force: true }),
      };
    },
    missingName: /no-such-dir does not exist: create it or fix store\.root/,
  },
];

describe.each(cases)('$name', (c) => {
  let store: ObjectStore;
  let missing: ObjectStore;
  let stop: () => Promise<void>;
  const key = 'ubuntu-22.04/2026.11.21/ubuntu-22.04.ova';

  beforeAll(async () => {
    ({ store, missing, stop } = await c.start());
  });
  afterAll(async () => {
    await stop?.();
  });

  test('probe passes on an existing store (even an empty one) and names a missing bucket, repository or root', async () => {
    await expect(store.probe()).resolves.toBeUndefined();
    const err = await missing.probe().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).retryable).toBe(false);
    expect((err as Error).message).toMatch(c.missingName);
  });

  test('names with dots and + are plain path segments', async () => {
    const p = 'win_2022/1.2.3+build.7/win.ova';
    await store.put(p, Readable.from([Buffer.from('x')]));
    expect((await store.head(p))?.size).toBe(1);
    expect(await collect(store.list('win_2022/'))).toEqual([p]);
    await store.delete(p);
  });

  test('put a 20 MiB stream, then head reports its size (and sha256 where the store keeps it)', async () => {
    await store.put(key, bigStream(), { size: BIG.length, sha256: BIG_SHA256 });
    const info = await store.head(key);
    expect(info?.path).toBe(key);
    expect(info?.size).toBe(BIG.length);
    if (c.sha256) expect(info?.sha256).toBe(BIG_SHA256);
    else expect(info?.sha256).toBeUndefined();
  });

  test('a full get hashes to what was put', async () => {
    const hash = createHash('sha256');
    for await (const chunk of await store.get(key)) hash.update(chunk as Buffer);
    expect(hash.digest('hex')).toBe(BIG_SHA256);
  });

  test('a ranged get of the middle returns exactly those bytes', async () => {
    const start = 7 * MiB + 12_345;
    const end = 13 * MiB + 999; // inclusive
    const got = await readAll(await store.get(key, { start, end }));
    expect(got.length).toBe(end - start + 1);
    expect(got.equals(BIG.subarray(start, end + 1))).toBe(true);
    const tail = await readAll(await store.get(key, { start: BIG.length - 10 }));
    expect(tail.equals(BIG.subarray(BIG.length - 10))).toBe(true);
  });

  test('httpGet (stores over HTTP): the whole object and a range arrive exactly; a missing key is a NotFoundError', async () => {
    if (!store.httpGet) {
      expect(store).toBeInstanceOf(FileStore);
      return;
    }
    expect(
      createHash('sha256')
        .update(await httpGetAll(store, key))
        .digest('hex'),
    ).toBe(BIG_SHA256);
    const start = 5 * MiB + 3;
    expect((await httpGetAll(store, key, { start })).equals(BIG.subarray(start))).toBe(true);
    const missing = 'ubuntu-22.04/1999.01.01/missing.ova';
    const err = await httpGetAll(store, missing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as Error).message).toContain(missing);
  });

  test('list by prefix', async () => {
    for (const p of ['list/a/1.bin', 'list/a/deep/2.bin', 'list/ab.bin', 'list/b/3.bin']) {
      await store.put(p, Readable.from([Buffer.from(p)]));
    }
    expect(await collect(store.list('list/a/'))).toEqual(['list/a/1.bin', 'list/a/deep/2.bin']);
    expect(await collect(store.list('list/a'))).toEqual(['list/a/1.bin', 'list/a/deep/2.bin', 'list/ab.bin']);
    expect(await collect(store.list('list/'))).toHaveLength(4);
    expect(await collect(store.list('nothing-here/'))).toEqual([]);
    const all = await collect(store.list(''));
    expect(all).toContain(key);
    const sizes = new Map<string, number>();
    for await (const o of store.list('list/b/')) sizes.set(o.path, o.size);
    expect(sizes.get('list/b/3.bin')).toBe('list/b/3.bin'.length);
  });

  test('get of a missing key is a NotFoundError naming the path; head is undefined', async () => {
    const missing = 'ubuntu-22.04/1999.01.01/missing.ova';
    const err = await store.get(missing).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotFoundError);
    expect((err as NotFoundError).message).toContain(missing);
    expect((err as NotFoundError).retryable).toBe(false);
    expect(await store.head(missing)).toBeUndefined();
  });

  test('delete removes the object (and deleting again is fine)', async () => {
    await store.delete('list/ab.bin');
    expect(await store.head('list/ab.bin')).toBeUndefined();
    expect(await collect(store.list('list/'))).not.toContain('list/ab.bin');
    await store.delete('list/ab.bin');
    await store.delete(key);
    expect(await store.head(key)).toBeUndefined();
  });

  test('paths that escape the store are rejected before any request', async () => {
    for (const bad of ['../x', '/etc/passwd', 'a/../../x', 'a\\b', '', 'a\0b']) {
      await expect(store.get(bad)).rejects.toBeInstanceOf(InvalidNameError);
      await expect(store.put(bad, Readable.from([Buffer.from('x')]))).rejects.toBeInstanceOf(InvalidNameError);
    }
  });
});

describe('partSizeFor', () => {
  const MiB = 2 ** 20;
  test.each([
    ['unknown size', undefined, 16 * MiB],
    ['1 GiB', 2 ** 30, 16 * MiB],
    ['156 GiB (10,000 parts of 16 MiB)', 156 * 2 ** 30, 16 * MiB],
    ['1 TiB', 2 ** 40, 105 * MiB],
  ])('%s → %d', (_label, size, want) => {
    expect(partSizeFor(size)).toBe(want);
    // S3 and Artifactory: parts ≥ 5 MiB, at most 10,000 of them.
    if (size !== undefined) expect(Math.ceil(size / partSizeFor(size))).toBeLessThanOrEqual(10_000);
  });
});

describe('normalizeStorePath', () => {
  test('normalizes and rejects', () => {
    expect(normalizeStorePath('a//b/./c.ova')).toBe('a/b/c.ova');
    expect(normalizeStorePrefix('')).toBe('');
    expect(normalizeStorePrefix('a/b/')).toBe('a/b/');
    for (const bad of ['', '/', '/a', '..', 'a/..', 'a\\b', 'a\0b', 'C:/x', './..']) {
      expect(() => normalizeStorePath(bad), bad).toThrow(InvalidNameError);
    }
  });
});

describe('S3Store faults', () => {
  let s3: Awaited<ReturnType<typeof startS3>>;
  let proxy: Awaited<ReturnType<typeof startFaultProxy>>;
  let store: S3Store;

  beforeAll(async () => {
    s3 = await startS3({ bucket: 'faults' });
    proxy = await startFaultProxy(s3.port);
    store = new S3Store({
      endpoint: proxy.url,
      bucket: s3.bucket,
      region: s3.region,
      forcePathStyle: true,
      accessKeyId: s3.accessKeyId,
      secretAccessKey: s3.secretAccessKey,
    });
    await store.put('obj.bin', bigStream(), { size: BIG.length });
  });
  afterAll(async () => {
    await proxy?.stop();
    await s3?.destroy();
  });

  test('HTTP 503 from the store is a retryable StoreError', async () => {
    proxy.setMode('http503');
    try {
      const err = await store.get('obj.bin').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).retryable).toBe(true);
      expect((err as StoreError).status).toBe(503);
      const headErr = await store.head('obj.bin').catch((e: unknown) => e);
      expect((headErr as StoreError).retryable).toBe(true);
    } finally {
      proxy.setMode('pass');
    }
  });

  test('a refused connection is a retryable StoreError', async () => {
    proxy.setMode('refuse');
    try {
      const err = await store.head('obj.bin').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).retryable).toBe(true);
    } finally {
      proxy.setMode('pass');
    }
  });

  test('a download cut mid-stream errors with a retryable StoreError, and a Range resume completes it', async () => {
    proxy.cutAfterBytes(5 * MiB);
    const received: Buffer[] = [];
    let streamErr: unknown;
    try {
      for await (const chunk of await store.get('obj.bin')) received.push(chunk as Buffer);
    } catch (e) {
      streamErr = e;
    }
    expect(streamErr).toBeInstanceOf(StoreError);
    expect((streamErr as StoreError).retryable).toBe(true);
    const have = Buffer.concat(received);
    expect(have.length).toBeLessThan(BIG.length);
    expect(have.equals(BIG.subarray(0, have.length))).toBe(true);
    const rest = await readAll(await store.get('obj.bin', { start: have.length }));
    expect(createHash('sha256').update(have).update(rest).digest('hex')).toBe(BIG_SHA256);
  });

  test('httpGet: a 503 and a cut body are retryable StoreErrors; the cut resumes with a range', async () => {
    proxy.setMode('http503');
    try {
      const err = await httpGetAll(store, 'obj.bin').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).retryable).toBe(true);
      expect((err as StoreError).status).toBe(503);
    } finally {
      proxy.setMode('pass');
    }
    proxy.cutAfterBytes(5 * MiB);
    const err = await httpGetAll(store, 'obj.bin').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).retryable).toBe(true);
    const rest = await httpGetAll(store, 'obj.bin', { start: 5 * MiB });
    expect(rest.equals(BIG.subarray(5 * MiB))).toBe(true);
  });

  test('wrong credentials are a non-retryable StoreError that says what to check and leaks no secret', async () => {
    // s3rver checks the access key id but does not verify SigV4 signatures (only V2), so a wrong
    // secret alone would pass there: use an unknown key id (InvalidAccessKeyId, 403).
    const secret = 'not-the-secret-key-XYZ987';
    const bad = new S3Store({
      endpoint: s3.endpoint,
      bucket: s3.bucket,
      region: s3.region,
      forcePathStyle: true,
      accessKeyId: 'NOT-A-KEY-ID',
      secretAccessKey: secret,
    });
    for (const read of [() => bad.get('obj.bin'), () => httpGetAll(bad, 'obj.bin')]) {
      const err = await read().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StoreError);
      expect((err as StoreError).retryable).toBe(false);
      expect((err as StoreError).status).toBe(403);
      expect((err as StoreError).message).toMatch(/credentials/);
      expect(JSON.stringify({ m: (err as Error).message, c: String((err as Error).cause) })).not.toContain(secret);
    }
  });
});

describe('ArtifactoryStore faults', () => {
  let art: Awaited<ReturnType<typeof startArtifactoryStandin>>;

  beforeAll(async () => {
    art = await startArtifactoryStandin({ repo: 'generic-local', token: 'right-token-0123456789' });
  });
  afterAll(async () => {
    await art?.stop();
  });

  test('a wrong token is a non-retryable StoreError whose message does not contain the token', async () => {
    const wrong = 'wrong-token-SECRET-abcdef';
    for (const store of [
      new ArtifactoryStore({ url: art.url, repo: art.repo, token: wrong }),
      new ArtifactoryStore({ url: art.url, repo: art.repo, apiKey: wrong }),
    ]) {
      for (const read of [() => store.get('a/b.ova'), () => httpGetAll(store, 'a/b.ova')]) {
        const err = await read().catch((e: unknown) => e);
        expect(err).toBeInstanceOf(StoreError);
        expect((err as StoreError).retryable).toBe(false);
        expect((err as StoreError).status).toBe(401);
        expect((err as StoreError).message).toMatch(/token/);
        expect((err as StoreError).message).not.toContain(wrong);
      }
      expect(store.description).not.toContain(wrong);
      const putErr = await store.put('a/b.ova', Readable.from([Buffer.from('x')])).catch((e: unknown) => e);
      expect((putErr as StoreError).status).toBe(401);
      expect((putErr as StoreError).message).not.toContain(wrong);
    }
  });

  test('the API key header works too, and a sha256 that does not match the bytes is refused (409)', async () => {
    const store = new ArtifactoryStore({ url: art.url, repo: art.repo, apiKey: art.token });
    await store.put('k/ok.bin', Readable.from([Buffer.from('hello')]), {
      sha256: createHash('sha256').update('hello').digest('hex'),
    });
    expect((await store.head('k/ok.bin'))?.size).toBe(5);
    const err = await store
      .put('k/bad.bin', Readable.from([Buffer.from('hello')]), { sha256: 'f'.repeat(64) })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).status).toBe(409);
    expect((err as StoreError).retryable).toBe(false);
    expect(await store.head('k/bad.bin')).toBeUndefined();
  });

  test('a range past the end is HTTP 416, not retried', async () => {
    const store = new ArtifactoryStore({ url: art.url, repo: art.repo, token: art.token });
    await store.put('r/five.bin', Readable.from([Buffer.from('12345')]));
    const before = art.requests;
    const err = await store.get('r/five.bin', { start: 10 }).catch((e: unknown) => e);
    expect((err as StoreError).status).toBe(416);
    expect((err as StoreError).retryable).toBe(false);
    expect(art.requests).toBe(before + 1);
    const httpErr = await httpGetAll(store, 'r/five.bin', { start: 10 }).catch((e: unknown) => e);
    expect((httpErr as StoreError).status).toBe(416);
    expect((httpErr as StoreError).retryable).toBe(false);
  });
});

describe('FileStore specifics', () => {
  let root: string;
  let store: FileStore;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'ferry-filestore-'));
    store = new FileStore({ root });
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('rejects ../x', async () => {
    await expect(store.put('../x', Readable.from([Buffer.from('x')]))).rejects.toBeInstanceOf(InvalidNameError);
    await expect(store.head('../x')).rejects.toBeInstanceOf(InvalidNameError);
  });

  test('a failed upload leaves no file under the final name and no partial file', async () => {
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(MiB));
        this.destroy(new Error('source broke'));
      },
    });
    await expect(store.put('img/broken.ova', failing)).rejects.toThrow();
    expect(await store.head('img/broken.ova')).toBeUndefined();
    expect(await readdir(join(root, 'img'))).toEqual([]);
  });
});
