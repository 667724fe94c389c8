import type { Readable } from 'node:stream';

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
  put(path: string, body: Readable, options?: PutOptions): Promise<void>;
  list(prefix: string): AsyncIterable<ObjectInfo>;
  delete(path: string): Promise<void>;
  /**
   * Throws a `StoreError` unless the bucket, repository or root directory exists and can be
   * listed (one request, at most one object): `check` must tell a typo from a reachable store.
   */
  probe(): Promise<void>;
}
