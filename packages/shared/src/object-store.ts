import type { Readable } from 'node:stream';
import type { HttpGetError, HttpGetRequest } from './stores/http-get.js';

export interface ObjectInfo {
  /** Path inside the store (no bucket or repository). */
  path: string;
  size: number;
  /** SHA-256 hex when the store records one (Artifactory does; S3 only if we set it). */
  sha256?: string;
  lastModified?: Date;
}

/** Inclusive start, exclusive-free HTTP semantics: bytes `start`..end of the object. */
export interface ByteRange {
  start: number;
  /** Inclusive last byte; omitted means to the end. */
  end?: number;
}

export interface PutOptions {
  /** Known length, lets stores skip buffering. */
  size?: number;
  contentType?: string;
  /** Recorded as object metadata where the store supports it. */
  sha256?: string;
}

/**
 * The small interface every zone store implements (S3-compatible, Artifactory, local dir).
 * Errors: `NotFoundError` for a missing object, `StoreError` (with `retryable`) otherwise.
 */
export interface ObjectStore {
  /** Human-readable, secret-free description for logs and errors, e.g. `s3://images@127.0.0.1:9000`. */
  readonly description: string;
  head(path: string): Promise<ObjectInfo | undefined>;
  get(path: string, range?: ByteRange): Promise<Readable>;
  /**
   * The plain HTTP GET that reads `path` (signed, or with the store's credentials), for a reader
   * that puts the bytes in reused buffers (`httpGetInto`: the agent's download); `fail` turns that
   * reader's errors into this store's. A store that is not HTTP (a local directory) has none.
   */
  httpGet?(path: string, range?: ByteRange): Promise<HttpGetPlan>;
  put(path: string, body: Readable, options?: PutOptions): Promise<void>;
  list(prefix: string): AsyncIterable<ObjectInfo>;
  delete(path: string): Promise<void>;
  /**
   * Throws a `StoreError` unless the bucket, repository or root directory exists and can be
   * listed (one request, at most one object): `check` must tell a typo from a reachable store.
   */
  probe(): Promise<void>;
}

/** How to read one object over plain HTTP; `request` carries secrets (a signature, a token): never log it. */
export interface HttpGetPlan {
  request: HttpGetRequest;
  /** The store's own error (NotFoundError, StoreError with `retryable`) for a failed GET. */
  fail(err: HttpGetError): Error;
}
