import { randomBytes } from 'node:crypto';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type S3Handle, s3Store, startS3 } from './s3.js';

let s3: S3Handle;
let client: S3Client;

beforeAll(async () => {
  s3 = await startS3({ bucket: 'images' });
  client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
});
afterAll(async () => {
  client?.destroy();
  await s3?.destroy();
});

test('s3rver listens on loopback with the bucket created', () => {
  expect(s3.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(s3.bucket).toBe('images');
});

test('an object put with @aws-sdk/client-s3 reads back with a Range request, also after a restart', async () => {
  const body = randomBytes(256 * 1024);
  await client.send(
    new PutObjectCommand({
      Bucket: s3.bucket,
      Key: 'a/b/c.bin',
      Body: body,
      Metadata: { sha256: 'abc' },
    }),
  );
  const ranged = await client.send(
    new GetObjectCommand({ Bucket: s3.bucket, Key: 'a/b/c.bin', Range: 'bytes=1000-1999' }),
  );
  expect(ranged.ContentRange).toBe(`bytes 1000-1999/${body.length}`);
  const bytes = Buffer.from(await ranged.Body!.transformToByteArray());
  expect(bytes.equals(body.subarray(1000, 2000))).toBe(true);

  await s3.restart();
  const head = await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: 'a/b/c.bin' }));
  expect(head.ContentLength).toBe(body.length);
  expect(head.Metadata?.sha256).toBe('abc');
});

test('ListObjectsV2 pages with continuation tokens, one key at a time (s3rver alone answers 500 on Node 20)', async () => {
  const keys = ['list/a.ova', 'list/b/c.ova', 'list/b/d.ova', 'list/e.ova'];
  for (const Key of keys) await client.send(new PutObjectCommand({ Bucket: s3.bucket, Key, Body: Key }));
  const seen: string[] = [];
  const tokens: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'list/', MaxKeys: 1, ContinuationToken: token }),
    );
    expect(page.KeyCount).toBe(1);
    seen.push(...(page.Contents ?? []).map((c) => c.Key!));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
    if (token) tokens.push(token);
  } while (token);
  expect(seen).toEqual(keys);
  expect(tokens).toHaveLength(keys.length - 1);

  const after = await client.send(
    new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: 'list/', StartAfter: 'list/b/c.ova' }),
  );
  expect(after.Contents?.map((c) => c.Key)).toEqual(['list/b/d.ova', 'list/e.ova']);
  expect(after.IsTruncated).toBe(false);

  const bad = client.send(new ListObjectsV2Command({ Bucket: s3.bucket, ContinuationToken: 'bm90LWEtdG9rZW4' }));
  await expect(bad).rejects.toMatchObject({ name: 'InvalidArgument' });

  // The store probe (ListObjectsV2 max-keys=1) passes on a bucket with more than one object.
  await expect(s3Store(s3).probe()).resolves.toBeUndefined();
});
