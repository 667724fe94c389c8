/** The two multipart calls the test world adds to s3rver: list unfinished uploads, abort one. */
import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type S3Handle, startS3 } from './s3.js';

let s3: S3Handle;
let client: S3Client;
beforeAll(async () => {
  s3 = await startS3();
  client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
});
afterAll(async () => {
  client?.destroy();
  await s3?.destroy();
});

it('lists an unfinished multipart upload until it is aborted', async () => {
  const Bucket = s3.bucket;
  const Key = 'a/b/c.ova';
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key }));
  await client.send(new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: 1, Body: Buffer.alloc(1024, 7) }));
  const before = await client.send(new ListMultipartUploadsCommand({ Bucket }));
  expect(before.Uploads?.map((u) => [u.Key, u.UploadId])).toEqual([[Key, UploadId]]);
  await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId }));
  const after = await client.send(new ListMultipartUploadsCommand({ Bucket }));
  expect(after.Uploads ?? []).toEqual([]);
});
