import { readFileSync } from 'node:fs';
import { Agent as HttpsAgent } from 'node:https';
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { NotFoundError, StoreError } from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import type { ByteRange, HttpGetPlan, ObjectInfo, ObjectStore, PutOptions } from '../object-store.js';
import { isRetryableServiceName, isRetryableStatus } from '../retry-policy.js';
import type { HttpGetError } from './http-get.js';
import { guardStream, isHostNotFound, networkErrorCode, redact, safeCause } from './store-errors.js';
import { normalizeStorePath, normalizeStorePrefix, rangeHeader } from './store-path.js';

export interface S3StoreOptions {
  /** e.g. `http://127.0.0.1:9000` for MinIO/Ceph/s3rver; omitted for AWS itself. */
  endpoint?: string;
  bucket: string;
  region: string;
  /** `http://host/bucket/key` instead of `http://bucket.host/key` (MinIO, Ceph, s3rver). */
  forcePathStyle: boolean;
  /** Key prefix inside the bucket under which every path lives. */
  prefix?: string;
  /** Without keys the SDK's default chain applies (AWS_* env, profile, instance role). */
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** PEM file with the CA(s) that signed the endpoint's certificate. */
  caFile?: string;
  /** Skip TLS certificate verification (test set-ups only). */
  insecure?: boolean;
  logger?: Logger;
}

/**
 * Multipart upload shape. Measured on s3rver (256 MiB, `pnpm exec tsx bench/run.ts --only publish
 * --size 256MiB`, busy 2-core machine): 16 MiB × 4 and 64 MiB × 2 in flight both took ~5 s, so
 * s3rver's time goes to assembling the upload, not to the number of parts. The limits that decide
 * are real S3's and Artifactory's (S3 API): every part but the last ≥ 5 MiB, at most 10,000 parts,
 * a single PUT at most 5 GiB. 16 MiB parts with 4 in flight keep the publisher's buffers at
 * 64 MiB and reach 156 GiB; larger objects get larger parts (`partSizeFor`). Objects smaller than
 * one part go up in one PUT (the SDK does that by itself), with their length stated.
 */
const MIN_PART_SIZE = 16 * 1024 * 1024;
const MAX_PARTS = 10_000;
const QUEUE_SIZE = 4;

/** The part size for an object of `size` bytes (unknown: the minimum): ≥ 16 MiB, ≤ 10,000 parts. */
export function partSizeFor(size: number | undefined): number {
  if (size === undefined) return MIN_PART_SIZE;
  const mib = 1024 * 1024;
  return Math.max(MIN_PART_SIZE, Math.ceil(size / MAX_PARTS / mib) * mib);
}
const SHA256_METADATA = 'sha256';

interface SdkErrorLike {
  name?: string;
  Code?: string;
  message?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: unknown;
}

/** An S3-compatible bucket (AWS, MinIO, Ceph RGW, s3rver) through @aws-sdk/client-s3. */
export class S3Store implements ObjectStore {
  readonly description: string;
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly logger: Logger;
  private readonly secrets: Array<string | undefined>;
  private readonly tls: { ca?: Buffer; rejectUnauthorized: boolean };

  constructor(options: S3StoreOptions) {
    this.bucket = options.bucket;
    this.prefix = options.prefix ? normalizeStorePath(options.prefix) + '/' : '';
    this.logger = (options.logger ?? silentLogger()).child({ store: 's3' });
    this.secrets = [options.secretAccessKey, options.sessionToken];
    let where = 'aws';
    if (options.endpoint) {
      const u = new URL(options.endpoint);
      where = u.host;
    }
    this.description = `s3://${options.bucket}@${where}${this.prefix ? `/${this.prefix.slice(0, -1)}` : ''}`;

    this.tls = {
      ...(options.caFile ? { ca: readFileSync(options.caFile) } : {}),
      rejectUnauthorized: !options.insecure,
    };
    const httpsAgent =
      options.caFile || options.insecure ? new HttpsAgent({ keepAlive: true, ...this.tls }) : undefined;
    const config: S3ClientConfig = {
      region: options.region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle,
      // The SDK retries a little (3 attempts, its own backoff); the caller retries with its own
      // backoff on top, so a long outage is not multiplied here.
      maxAttempts: 3,
      // Since SDK 3.729 the default is to send CRC32 checksums (x-amz-checksum-* headers and, on
      // streamed uploads, aws-chunked bodies with trailers) and to validate response checksums.
      // S3-compatible stores that predate that (older MinIO and Ceph RGW releases; s3rver only
      // implements SigV2/SigV4 as of 2020) reject or mishandle those requests (InvalidArgument,
      // XAmzContentSHA256Mismatch, chunk framing stored as object bytes), so only send or check
      // them when an operation requires it. ferry verifies SHA-256 end to end anyway.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        connectionTimeout: 10_000,
        // Idle socket limit: a store that stops sending mid-object fails instead of hanging.
        socketTimeout: 300_000,
        ...(httpsAgent ? { httpsAgent } : {}),
      },
    };
    if (options.accessKeyId && options.secretAccessKey) {
      config.credentials = {
        accessKeyId: options.accessKeyId,
        secretAccessKey: options.secretAccessKey,
        sessionToken: options.sessionToken,
      };
    }
    this.client = new S3Client(config);
  }

  private key(path: string): string {
    return this.prefix + normalizeStorePath(path);
  }

  async head(path: string): Promise<ObjectInfo | undefined> {
    const key = this.key(path);
    try {
      const out = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return {
        path: normalizeStorePath(path),
        size: out.ContentLength ?? 0,
        sha256: out.Metadata?.[SHA256_METADATA] || undefined,
        lastModified: out.LastModified,
      };
    } catch (err) {
      const mapped = this.mapError(err, 'head', path);
      if (mapped instanceof NotFoundError) return undefined;
      throw mapped;
    }
  }

  async get(path: string, range?: ByteRange): Promise<Readable> {
    const key = this.key(path);
    const rangeValue = range ? rangeHeader(range) : undefined;
    try {
      const out = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: rangeValue }));
      const body = out.Body;
      if (!(body instanceof Readable)) {
        throw new StoreError(this.description, 'get', path, 'the S3 client returned no readable body');
      }
      this.logger.debug({ path, range: rangeValue, length: out.ContentLength }, 'get');
      return guardStream(body, (e) => this.mapError(e, 'get', path));
    } catch (err) {
      throw this.mapError(err, 'get', path);
    }
  }

  /**
   * A presigned GET (valid 15 minutes, credentials from the same chain as every other call); the
   * Range header is sent unsigned, which SigV4 allows.
   */
  async httpGet(path: string, range?: ByteRange): Promise<HttpGetPlan> {
    let url: string;
    try {
      url = await getSignedUrl(this.client, new GetObjectCommand({ Bucket: this.bucket, Key: this.key(path) }), {
        expiresIn: 900,
      });
    } catch (err) {
      throw this.mapError(err, 'get', path);
    }
    return {
      request: {
        url: new URL(url),
        headers: range ? { range: rangeHeader(range) } : {},
        ...this.tls,
      },
      fail: (err: HttpGetError) => {
        const { status, body, code } = err.details;
        // S3 names the error in its XML body (<Code>NoSuchKey</Code>); the SDK's mapping applies as is.
        const name = /<Code>([^<]+)<\/Code>/.exec(body ?? '')?.[1] ?? code ?? 'HttpGetError';
        return this.mapError({ name, code, message: err.message, $metadata: { httpStatusCode: status } }, 'get', path);
      },
    };
  }

  async put(path: string, body: Readable, options: PutOptions = {}): Promise<void> {
    const key = this.key(path);
    const partSize = partSizeFor(options.size);
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: this.bucket,
        Key: key,
        Body: body,
        ContentType: options.contentType ?? 'application/octet-stream',
        ...(options.size !== undefined && options.size < partSize ? { ContentLength: options.size } : {}),
        ...(options.sha256 ? { Metadata: { [SHA256_METADATA]: options.sha256 } } : {}),
      },
      partSize,
      queueSize: QUEUE_SIZE,
      // Abort the multipart upload on failure, so no orphaned parts are billed or kept.
      leavePartsOnError: false,
    });
    try {
      await upload.done();
      this.logger.debug({ path, size: options.size }, 'put');
    } catch (err) {
      throw this.mapError(err, 'put', path);
    }
  }

  async probe(): Promise<void> {
    try {
      await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix, MaxKeys: 1 }));
    } catch (err) {
      const mapped = this.mapError(err, 'probe', '/');
      // A 404 on the bucket itself (some S3 servers say NotFound, not NoSuchBucket).
      if (mapped instanceof NotFoundError) {
        throw new StoreError(
          this.description,
          'probe',
          '/',
          `bucket ${this.bucket} does not exist: create it or fix store.bucket`,
          {
            retryable: false,
          },
        );
      }
      throw mapped;
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const listPrefix = this.prefix + normalizeStorePrefix(prefix);
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: listPrefix, ContinuationToken: token }),
        );
      } catch (err) {
        throw this.mapError(err, 'list', prefix || '/');
      }
      for (const obj of page.Contents ?? []) {
        if (!obj.Key || obj.Key.endsWith('/')) continue;
        yield { path: obj.Key.slice(this.prefix.length), size: obj.Size ?? 0, lastModified: obj.LastModified };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(path: string): Promise<void> {
    const key = this.key(path);
    try {
      // S3 answers 204 for a missing key too: deleting is idempotent.
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (err) {
      const mapped = this.mapError(err, 'delete', path);
      if (mapped instanceof NotFoundError) return;
      throw mapped;
    }
  }

  /** SDK/network error → NotFoundError or StoreError (retryable for 5xx, throttling, network). */
  private mapError(err: unknown, operation: string, path: string): Error {
    if (err instanceof NotFoundError || err instanceof StoreError) return err;
    const e = (typeof err === 'object' && err !== null ? err : {}) as SdkErrorLike;
    const status = e.$metadata?.httpStatusCode;
    const name = e.name ?? e.Code ?? 'Error';
    const cause = safeCause(err, this.secrets);
    const fail = (message: string, retryable: boolean) =>
      new StoreError(this.description, operation, path, message, { cause, retryable, status });

    if (name === 'NoSuchBucket') {
      return fail(`bucket ${this.bucket} does not exist: create it or fix store.bucket`, false);
    }
    if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) {
      return new NotFoundError(this.description, path, { cause });
    }
    if (name === 'CredentialsProviderError') {
      return fail(
        'no S3 credentials: set store.accessKeyIdFile and store.secretAccessKeyFile, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY',
        false,
      );
    }
    const netCode = networkErrorCode(err);
    // Retryable, but the message does not promise a retry: a one-shot CLI command does not make one.
    if (netCode) return fail(`network error (${netCode}): check store.endpoint and that the store is reachable`, true);
    if (isHostNotFound(err)) return fail('endpoint host not found: check store.endpoint and DNS', false);
    if (isRetryableServiceName(name) || (status !== undefined && isRetryableStatus(status))) {
      return fail(`store unavailable (HTTP ${status ?? '?'} ${name}): try again later`, true);
    }
    const detail = redact(e.message ?? name, this.secrets);
    if (
      status === 403 ||
      status === 401 ||
      name === 'AccessDenied' ||
      name === 'InvalidAccessKeyId' ||
      name === 'SignatureDoesNotMatch'
    ) {
      return fail(
        `access denied (HTTP ${status ?? '?'} ${name}): check the credentials (accessKeyId/secretAccessKey files or AWS_* env) and the bucket policy`,
        false,
      );
    }
    if (status === 416 || name === 'InvalidRange') {
      return fail('requested range is outside the object (HTTP 416)', false);
    }
    if (status !== undefined && status >= 400) {
      return fail(`HTTP ${status} ${name}: ${detail}`, false);
    }
    return fail(`${name}: ${detail}`, false);
  }
}
