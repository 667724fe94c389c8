import { createHash } from 'node:crypto';
import { type FileHandle, mkdir, open, rename, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import {
  type BackoffPolicy,
  backoffDelay,
  CacheError,
  ChecksumMismatchError,
  HttpGetError,
  httpGetInto,
  isRetryable,
  type Logger,
  type ObjectStore,
  silentLogger,
  sleep,
} from '@ferry/shared';
import { BatchFileWriter } from './batch-file-sink.js';
import { cacheFreeBytes, cacheWriteError, makeRoom, Pins } from './cache-files.js';
import { hashFile, hashPrefix } from './file-hasher.js';
import { GrowingFile, type ReadableGrowingFile } from './growing-file.js';
import { type TokenBucket, throttle, throttledSink } from './token-bucket.js';

export interface DownloadCacheOptions {
  dir: string;
  maxBytes: number;
  logger?: Logger;
  /** Retries of one download on transient faults (5xx, resets, timeouts). */
  retry?: BackoffPolicy & { maxAttempts: number };
  /** Limits on bytes read from the store (`bandwidth.store`). */
  storeBuckets?: readonly TokenBucket[];
}

export interface ArtifactRef {
  artifact: string;
  sha256: string;
  size: number;
}

export interface FetchOptions {
  onProgress?: (bytesDone: number, bytesTotal: number) => void;
  signal?: AbortSignal;
  /**
   * Called once, before the download ends, with the cache file as it grows: an import can
   * read it from the first byte on (see `GrowingFile.read`), never past what is proven.
   */
  onOpen?: (file: ReadableGrowingFile) => void;
  /**
   * Runs the download itself (e.g. in the zone's bounded download queue). Only the first caller's
   * is used: a caller that joins a download under way neither queues nor downloads again.
   */
  schedule?: <T>(download: () => Promise<T>) => Promise<T>;
}

/** One download under way, shared by every caller that wants the same sha256. */
interface Inflight {
  job: Promise<{ reused: boolean; bytesFromStore: number }>;
  file: GrowingFile;
  /** Stopped only when every caller has given up (one target's abort never starves another). */
  stop: AbortController;
  users: number;
  gaveUp: number;
  progress: Set<(bytesDone: number, bytesTotal: number) => void>;
}

/** What an import needs of the cache: the artifact, proven, with its file open while it grows. */
export type ImageCache = Pick<DownloadCache, 'fetch'>;

export interface CachedImage {
  path: string;
  size: number;
  sha256: string;
  /** True when a verified file already in the cache was used. */
  reused: boolean;
  /** Bytes this fetch read from the store (resumes make this less than `size`). */
  bytesFromStore: number;
  /** Lets eviction remove the file again; call when the import is done with it. */
  release(): void;
}

/**
 * In-place resumes of one download (connection resets mid-stream). Kept short: a store that
 * stays down fails the job, whose status then shows the error and when it is retried.
 * The count restarts whenever bytes flowed, so a long transfer survives many resets.
 */
const DEFAULT_RETRY = { baseMs: 1_000, maxMs: 5_000, jitter: 0.5, maxAttempts: 3 };

/**
 * The agent's verified cache: `<sha256>.partial` while downloading (resumable with
 * Range), `<sha256>.ova` once its size and SHA-256 are proven. Only proven files
 * carry the final name, so a crash never leaves a partial file taken for whole.
 */
export class DownloadCache {
  readonly dir: string;
  readonly maxBytes: number;
  readonly #log: Logger;
  readonly #retry: BackoffPolicy & { maxAttempts: number };
  readonly #storeBuckets: readonly TokenBucket[];
  /** sha256 → number of users; pinned files are never evicted. */
  readonly #pins = new Pins();
  /** One download per sha256 at a time; a second caller waits for the first. */
  readonly #inflight = new Map<string, Inflight>();

  constructor(options: DownloadCacheOptions) {
    this.dir = options.dir;
    this.maxBytes = options.maxBytes;
    this.#log = options.logger ?? silentLogger();
    this.#retry = options.retry ?? DEFAULT_RETRY;
    this.#storeBuckets = options.storeBuckets ?? [];
  }

  finalPath(sha256: string): string {
    return join(this.dir, `${sha256}.ova`);
  }

  partialPath(sha256: string): string {
    return join(this.dir, `${sha256}.partial`);
  }

  async init(): Promise<void> {
    try {
      await mkdir(this.dir, { recursive: true });
    } catch (err) {
      throw new CacheError(this.dir, `cannot create cache dir ${this.dir}: ${(err as Error).message}`, { cause: err });
    }
  }

  /** Bytes the cache may still take: the smaller of `maxBytes - used` and the filesystem's free space. */
  freeBytes(): Promise<number> {
    return cacheFreeBytes(this.dir, this.maxBytes);
  }

  /**
   * Brings the artifact into the cache, proven, and pins it until `release()`. Callers asking for
   * the same sha256 while it downloads share that one download (and its growing file).
   */
  async fetch(store: ObjectStore, ref: ArtifactRef, options: FetchOptions = {}): Promise<CachedImage> {
    const release = this.#pins.hold(ref.sha256);
    let inflight: Inflight | undefined;
    const onAbort = () => {
      if (inflight && ++inflight.gaveUp >= inflight.users) inflight.stop.abort(options.signal?.reason);
    };
    try {
      const joined = this.#inflight.get(ref.sha256);
      inflight = joined ?? this.#startFetch(store, ref, options);
      inflight.users++;
      if (options.onProgress) inflight.progress.add(options.onProgress);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.signal?.aborted) onAbort();
      options.onOpen?.(inflight.file);
      // Store bytes are counted once, by the caller that started the download.
      const result = joined ? { ...(await inflight.job), bytesFromStore: 0 } : await inflight.job;
      return { path: this.finalPath(ref.sha256), size: ref.size, sha256: ref.sha256, ...result, release };
    } catch (err) {
      release();
      throw err;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      if (options.onProgress) inflight?.progress.delete(options.onProgress);
    }
  }

  /** Keeps the file from eviction (e.g. while a job that needs it waits for a retry); call the result to let go. */
  hold(sha256: string): () => void {
    return this.#pins.hold(sha256);
  }

  #startFetch(store: ObjectStore, ref: ArtifactRef, options: FetchOptions): Inflight {
    const file = new GrowingFile(this.partialPath(ref.sha256), this.finalPath(ref.sha256), ref.size);
    const stop = new AbortController();
    const progress = new Set<(bytesDone: number, bytesTotal: number) => void>();
    const run = () =>
      this.#fetchOnce(
        store,
        ref,
        {
          signal: stop.signal,
          onProgress: (done, total) => {
            for (const p of progress) p(done, total);
          },
        },
        file,
      );
    const job = (options.schedule ? options.schedule(run) : run()).then(
      (result) => {
        file.prove();
        return result;
      },
      (err: unknown) => {
        file.fail(err as Error);
        throw err;
      },
    );
    const inflight: Inflight = {
      job: job.finally(() => this.#inflight.delete(ref.sha256)),
      file,
      stop,
      users: 0,
      gaveUp: 0,
      progress,
    };
    this.#inflight.set(ref.sha256, inflight);
    return inflight;
  }

  /** Removes a cached file (after a later check found it bad). */
  async discard(sha256: string): Promise<void> {
    await rm(this.finalPath(sha256), { force: true });
    await rm(this.partialPath(sha256), { force: true });
  }

  async #fetchOnce(
    store: ObjectStore,
    ref: ArtifactRef,
    options: FetchOptions,
    growing: GrowingFile,
  ): Promise<{ reused: boolean; bytesFromStore: number }> {
    const log = this.#log.child({ sha256: ref.sha256.slice(0, 12), artifact: ref.artifact });
    const final = this.finalPath(ref.sha256);
    const existing = await stat(final).catch(() => undefined);
    if (existing) {
      growing.checkingReuse();
      const actual = await hashFile(final);
      if (actual.sha256 === ref.sha256 && actual.size === ref.size) {
        const now = new Date();
        await utimes(final, now, now); // LRU order
        options.onProgress?.(ref.size, ref.size);
        log.debug('cached file verified, reused');
        return { reused: true, bytesFromStore: 0 };
      }
      log.warn('cached file does not match its sha256; removing it and downloading again');
      await rm(final, { force: true });
      growing.reuseFailed();
    }
    return this.#download(store, ref, options, growing, log);
  }

  async #download(
    store: ObjectStore,
    ref: ArtifactRef,
    options: FetchOptions,
    growing: GrowingFile,
    log: Logger,
  ): Promise<{ reused: boolean; bytesFromStore: number }> {
    const partial = this.partialPath(ref.sha256);
    await this.init();

    // A partial file from an earlier run: resume after it (its bytes are hashed with the rest).
    let done = 0;
    const prior = await stat(partial).catch(() => undefined);
    if (prior && prior.size <= ref.size) {
      done = prior.size;
      if (done > 0) log.info({ resumeAt: done }, 'resuming download from partial file');
    } else if (prior) {
      await rm(partial, { force: true });
    }
    await this.#makeRoom(ref.size - done, ref.sha256);
    if (done === 0) {
      await writeFile(partial, '').catch((err: unknown) => {
        throw cacheWriteError(this.dir, err, partial) ?? err;
      });
    }
    growing.grew(done);
    // Kept bytes are read back and hashed first; new ones as each batch is written.
    const hash = createHash('sha256');
    if (done > 0) await hashPrefix(partial, done, hash);

    let bytesFromStore = 0;
    let failures = 0;
    for (;;) {
      let fh: FileHandle | undefined;
      let sink: BatchFileWriter | undefined;
      const doneBefore = done;
      try {
        // Never 'w' (O_TRUNC): on ext4, a file truncated to zero and written again is flushed to
        // disk at close (auto_da_alloc), which held the verified file back 0.3–0.4 s per GiB. The
        // file exists (created empty above); writes go to explicit positions and never past the
        // object's size, and only bytes counted in `done` are ever read.
        fh = await open(partial, 'r+');
        if (done < ref.size) {
          sink = new BatchFileWriter({
            file: fh,
            position: done,
            maxBytes: ref.size - done,
            tooLong: () => new ChecksumMismatchError(ref.artifact, String(ref.size), `more than ${ref.size}`, 'size'),
            ...(options.signal ? { signal: options.signal } : {}),
            onWritten: (n) => {
              done += n;
              bytesFromStore += n;
              growing.grew(done);
              options.onProgress?.(done, ref.size);
            },
            // On this thread, as the bytes arrive: a worker fed per batch was slower on 2 cores
            // (docs/benchmarks.md: every hand-off between threads wakes a core).
            onBatch: (bytes) => hash.update(bytes),
          });
          await this.#readInto(store, ref, done, sink, options.signal);
        }
        await fh.close();
        fh = undefined;
        break;
      } catch (err) {
        await sink?.settled();
        await fh
          ?.close()
          .catch((closeErr: unknown) =>
            this.#log.debug({ err: (closeErr as Error).message }, 'partial file not closed'),
          );
        const full = cacheWriteError(this.dir, err, partial);
        if (full) {
          growing.fail(full);
          await rm(partial, { force: true });
          throw full;
        }
        // Part of a batch may be on disk after `done` when a write failed: never resume in place after it.
        if (err instanceof ChecksumMismatchError || sink?.writeFailed) {
          growing.fail(err as Error);
          await rm(partial, { force: true });
          throw err;
        }
        failures = done > doneBefore ? 1 : failures + 1;
        if (!isRetryable(err) || failures >= this.#retry.maxAttempts || options.signal?.aborted) throw err;
        const delay = backoffDelay(failures, this.#retry);
        log.warn({ failures, delayMs: delay, at: done, err: (err as Error).message }, 'download interrupted; resuming');
        await sleep(delay, options.signal);
      }
    }

    const actual = done === ref.size ? hash.digest('hex') : '';
    if (done !== ref.size || actual !== ref.sha256) {
      const mismatch =
        done !== ref.size
          ? new ChecksumMismatchError(ref.artifact, String(ref.size), String(done), 'size')
          : new ChecksumMismatchError(ref.artifact, ref.sha256, actual);
      growing.fail(mismatch);
      await rm(partial, { force: true });
      throw mismatch;
    }
    await rename(partial, this.finalPath(ref.sha256));
    log.info({ bytes: ref.size, bytesFromStore }, 'download verified');
    return { reused: false, bytesFromStore };
  }

  /**
   * The object's bytes from `start` into `sink`: over plain HTTP into one reused buffer where the
   * store allows it (`httpGetInto`: no allocation per chunk, see there), else as the store's stream.
   */
  async #readInto(
    store: ObjectStore,
    ref: ArtifactRef,
    start: number,
    sink: BatchFileWriter,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const range = start === 0 ? undefined : { start };
    const plan = await store.httpGet?.(ref.artifact, range);
    if (plan) {
      const to = this.#storeBuckets.length > 0 ? throttledSink(sink, this.#storeBuckets) : sink;
      try {
        await httpGetInto(plan.request, to, { expect: range ? 206 : 200, ...(signal ? { signal } : {}) });
        await sink.finish();
        return;
      } catch (err) {
        if (!(err instanceof HttpGetError)) throw err;
        // A chunked answer (no Content-Length) before any byte was taken: read it as a stream instead.
        if (err.code !== 'EUNSUPPORTED') throw plan.fail(err);
      }
    }
    const body = await store.get(ref.artifact, range);
    // The signal also ends a stalled body (every caller gave up), not only the next write.
    const stop = signal ? { signal } : {};
    if (this.#storeBuckets.length > 0) await pipeline(body, throttle(this.#storeBuckets), sink.stream(), stop);
    else await pipeline(body, sink.stream(), stop);
  }

  /** Evicts least-recently-used finished files that nobody uses until `needed` more bytes fit. */
  #makeRoom(needed: number, forSha: string): Promise<void> {
    return makeRoom(this.dir, this.maxBytes, needed, forSha, (sha) => this.#pins.has(sha), this.#log);
  }
}
