/**
 * ListObjectsV2 paging for s3rver 3.7 on Node 20.
 *
 * s3rver makes and reads its continuation tokens with DES, which OpenSSL 3 (Node >= 17) no longer
 * offers without its legacy provider (jamhall/s3rver#818): every listing that is truncated (more
 * keys than max-keys) answers `500 InternalError`, e.g. the store probe's `ListObjectsV2
 * max-keys=1` on a bucket with two objects. S3 itself answers it, and so must the test world.
 *
 * The fix wraps s3rver's bucket listing controller (after its signature check, which reads the
 * query as the client signed it): a list-type=2 request is run as s3rver's version 1 listing (a
 * marker instead of a token; v1 makes no token) and its answer put back in version 2's shape, with
 * a token that is the base64url of `<bucket>/<last key>`. Version 1 requests are left alone.
 */
import { createRequire } from 'node:module';

interface ListContext {
  query: Record<string, string | string[] | undefined>;
  params: { bucket: string };
  body: unknown;
}

interface ListBucketResult {
  Marker?: string;
  NextMarker?: string;
  IsTruncated: boolean;
  Contents: Array<{ Key: string; Owner?: unknown }>;
  CommonPrefixes: Array<{ Prefix: string }>;
  [field: string]: unknown;
}

type Controller = (ctx: ListContext) => Promise<void>;

const require = createRequire(import.meta.url);
/** s3rver's own modules: the router looks `getBucket` up on this object at every request. */
const bucketController = require('s3rver/lib/controllers/bucket.js') as { getBucket: Controller };
const S3Error = require('s3rver/lib/models/error.js') as new (
  code: string,
  message: string,
  detail: Record<string, string>,
) => Error;

export function encodeToken(bucket: string, key: string): string {
  return Buffer.from(`${bucket}/${key}`, 'utf8').toString('base64url');
}

/** The key a token continues after, or undefined when it is not one of this bucket's tokens. */
export function decodeToken(bucket: string, token: string): string | undefined {
  const text = Buffer.from(token, 'base64url').toString('utf8');
  return text.startsWith(`${bucket}/`) && text.length > bucket.length + 1 ? text.slice(bucket.length + 1) : undefined;
}

const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

function listV2(v1: Controller): Controller {
  return async (ctx) => {
    if (one(ctx.query['list-type']) !== '2') return v1(ctx);
    const { bucket } = ctx.params;
    const token = one(ctx.query['continuation-token']);
    let startAfter = one(ctx.query['start-after']);
    if (token) {
      startAfter = decodeToken(bucket, token);
      if (startAfter === undefined) {
        throw new S3Error('InvalidArgument', 'The continuation token provided is incorrect', {
          ArgumentName: 'continuation-token',
        });
      }
    }
    const fetchOwner = one(ctx.query['fetch-owner']) === 'true';
    const {
      'list-type': _type,
      'continuation-token': _token,
      'start-after': _after,
      'fetch-owner': _owner,
      ...rest
    } = ctx.query;
    ctx.query = startAfter === undefined ? rest : { ...rest, marker: startAfter };
    await v1(ctx);
    const result = (ctx.body as { ListBucketResult: ListBucketResult }).ListBucketResult;
    const { Marker: _marker, NextMarker: _next, ...fields } = result;
    const keys = result.Contents.map((c) => c.Key);
    const last = [...keys, ...result.CommonPrefixes.map((p) => p.Prefix)].sort().at(-1);
    ctx.body = {
      ListBucketResult: {
        ...fields,
        StartAfter: token ? undefined : startAfter,
        ContinuationToken: token,
        NextContinuationToken: result.IsTruncated && last !== undefined ? encodeToken(bucket, last) : undefined,
        KeyCount: keys.length + result.CommonPrefixes.length,
        Contents: result.Contents.map((c) => (fetchOwner ? c : { ...c, Owner: undefined })),
      },
    };
  };
}

let installed = false;

/** Makes s3rver's ListObjectsV2 page without DES; once per process (every s3rver in it shares the module). */
export function installListV2Paging(): void {
  if (installed) return;
  installed = true;
  bucketController.getBucket = listV2(bucketController.getBucket);
}
