import { type FileHandle, mkdir, open, readdir, rename, rm, stat, statfs, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import {
  type BackoffPolicy,
  backoffDelay,
  CacheError,
  ChecksumMismatchError,
  formatBytes,
  isRetryable,
  type Logger,
  type ObjectStore,
  silentLogger,
  sleep,
} from '@ferry/shared';
import { BatchFileSink } from './batch-file-sink.js';
import { FileHasher } from './file-hasher.js';
import { GrowingFile, type ReadableGrowingFile } from './growing-file.js';

export interface DownloadCacheOptions {
  dir: string;
  maxBytes: number;
  logger?: Logger;
  /** Retries of one download on transient faults (5xx, resets, timeouts). */
  retry?: BackoffPolicy & { maxAttempts: number };
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
  /** sha256 → number of users; pinned files are never evicted. */
  readonly #pins = new Map<string, number>();
  /** One download per sha256 at a time; a second caller waits for the first. */
  readonly #inflight = new Map<
    string,
    { job: Promise<{ reused: boolean; bytesFromStore: number }>; file: GrowingFile }
  >();

  constructor(options: DownloadCacheOptions) {
    this.dir = options.dir;
    this.maxBytes = options.maxBytes;
    this.#log = options.logger ?? silentLogger();
    this.#retry = options.retry ?? DEFAULT_RETRY;
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
  async freeBytes(): Promise<number> {
    const used = (await this.#entries()).reduce((sum, e) => sum + e.size, 0);
    let fsFree = Number.POSITIVE_INFINITY;
    try {
      const s = await statfs(this.dir);
      fsFree = Number(s.bavail) * Number(s.bsize);
    } catch {
      // statfs unsupported: maxBytes alone.
    }
    return Math.max(0, Math.min(this.maxBytes - used, fsFree));
  }

  /** Brings the artifact into the cache, proven, and pins it until `release()`. */
  async fetch(store: ObjectStore, ref: ArtifactRef, options: FetchOptions = {}): Promise<CachedImage> {
    this.#pin(ref.sha256);
    try {
      let inflight = this.#inflight.get(ref.sha256);
      if (!inflight) {
        const file = new GrowingFile(this.partialPath(ref.sha256), this.finalPath(ref.sha256), ref.size);
        const job = this.#fetchOnce(store, ref, options, file).then(
          (result) => {
            file.prove();
            return result;
          },
          (err: unknown) => {
            file.fail(err as Error);
            throw err;
          },
        );
        inflight = { job: job.finally(() => this.#inflight.delete(ref.sha256)), file };
        this.#inflight.set(ref.sha256, inflight);
      }
      options.onOpen?.(inflight.file);
      const result = await inflight.job;
      let released = false;
      return {
        path: this.finalPath(ref.sha256),
        size: ref.size,
        sha256: ref.sha256,
        ...result,
        release: () => {
          if (!released) this.#unpin(ref.sha256);
          released = true;
        },
      };
    } catch (err) {
      this.#unpin(ref.sha256);
      throw err;
    }
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
    if (done === 0) await writeFile(partial, '');
    growing.grew(done);
    const hasher = new FileHasher(partial);
    hasher.grew(done);
    try {
      return await this.#downloadRest(store, ref, options, growing, log, partial, done, hasher);
    } finally {
      await hasher.stop();
    }
  }

  async #downloadRest(
    store: ObjectStore,
    ref: ArtifactRef,
    options: FetchOptions,
    growing: GrowingFile,
    log: Logger,
    partial: string,
    resumeAt: number,
    hasher: FileHasher,
  ): Promise<{ reused: boolean; bytesFromStore: number }> {
    let done = resumeAt;

    let bytesFromStore = 0;
    let failures = 0;
    for (;;) {
      let fh: FileHandle | undefined;
      let sink: BatchFileSink | undefined;
      const doneBefore = done;
      try {
        fh = await open(partial, done === 0 ? 'w' : 'a');
        if (done < ref.size) {
          const body = await store.get(ref.artifact, done === 0 ? undefined : { start: done });
          sink = new BatchFileSink({
            file: fh,
            maxBytes: ref.size - done,
            tooLong: () => new ChecksumMismatchError(ref.artifact, String(ref.size), `more than ${ref.size}`, 'size'),
            ...(options.signal ? { signal: options.signal } : {}),
            onWritten: (n) => {
              done += n;
              bytesFromStore += n;
              growing.grew(done);
              hasher.grew(done);
              options.onProgress?.(done, ref.size);
            },
          });
          await pipeline(body, sink);
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
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOSPC' || code === 'EACCES' || code === 'EROFS' || code === 'EDQUOT') {
          const full = new CacheError(
            this.dir,
            `cannot write ${partial}: ${code === 'ENOSPC' || code === 'EDQUOT' ? 'disk full' : 'not writable'} (${code}); free space or fix permissions of cache.dir`,
            { cause: err },
          );
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

    const actual = done === ref.size ? (await hasher.digest(done)).sha256 : '';
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

  /** Evicts least-recently-used finished files that nobody uses until `needed` more bytes fit. */
  async #makeRoom(needed: number, forSha: string): Promise<void> {
    const entries = await this.#entries();
    let used = entries.reduce((sum, e) => sum + e.size, 0);
    if (used + needed <= this.maxBytes) return;
    const candidates = entries
      .filter((e) => e.final && e.sha256 !== forSha && !this.#pins.has(e.sha256))
      .sort((a, b) => a.mtimeMs - b.mtimeMs);
    for (const e of candidates) {
      if (used + needed <= this.maxBytes) break;
      await rm(e.path, { force: true });
      used -= e.size;
      this.#log.info({ evicted: e.sha256.slice(0, 12), bytes: e.size }, 'evicted from cache');
    }
    if (used + needed > this.maxBytes) {
      await rm(this.partialPath(forSha), { force: true });
      throw new CacheError(
        this.dir,
        `cache full: need ${formatBytes(needed)} but ${formatBytes(Math.max(0, this.maxBytes - used))} of cache.maxBytes ${formatBytes(this.maxBytes)} is free after evicting unused files; raise cache.maxBytes`,
      );
    }
  }

  async #entries(): Promise<Array<{ path: string; sha256: string; size: number; mtimeMs: number; final: boolean }>> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const out = [];
    for (const name of names) {
      const m = /^([0-9a-f]{64})\.(ova|partial)$/.exec(name);
      if (!m) continue;
      const s = await stat(join(this.dir, name)).catch(() => undefined);
      if (s)
        out.push({
          path: join(this.dir, name),
          sha256: m[1]!,
          size: s.size,
          mtimeMs: s.mtimeMs,
          final: m[2] === 'ova',
        });
    }
    return out;
  }

  #pin(sha: string): void {
    this.#pins.set(sha, (this.#pins.get(sha) ?? 0) + 1);
  }

  #unpin(sha: string): void {
    const n = (this.#pins.get(sha) ?? 1) - 1;
    if (n <= 0) this.#pins.delete(sha);
    else this.#pins.set(sha, n);
  }
}

/** SHA-256 of a whole file, in a worker thread (see FileHasher). */
async function hashFile(path: string): Promise<{ size: number; sha256: string }> {
  const { size } = await stat(path);
  return new FileHasher(path).digest(size);
}
