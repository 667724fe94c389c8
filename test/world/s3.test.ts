import { randomBytes } from 'node:crypto';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type S3Handle, startS3 } from './s3.js';

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
