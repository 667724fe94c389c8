import { type FileHandle, open } from 'node:fs/promises';

/** What a reader needs of a growing cache file (the importer's view). */
export type ReadableGrowingFile = Pick<
  GrowingFile,
  'reader' | 'watch' | 'partialPath' | 'finalPath' | 'size' | 'available' | 'onDisk' | 'reuse' | 'proven' | 'failed'
>;

/** Reads a growing file at positions (see `GrowingFile.reader`). */
export interface GrowingFileReader {
  /** Reads up to `buf.length` bytes at `position` into `buf`, waiting for them; 0 at the end of the proven file. */
  readAt(buf: Buffer, position: number, signal?: AbortSignal): Promise<number>;
  close(): Promise<void>;
}

/**
 * The cache file of one download while it grows: how many bytes are on disk (written and
 * counted), and whether the whole object is proven (size and SHA-256) or failed for good.
 * Readers follow it with `reader()` (and `watch()`), so an import can send from the cache while
 * the download is still filling it; the cache stays the resumable copy.
 */
export class GrowingFile {
  #available = 0;
  #state: 'growing' | 'proven' | 'failed' = 'growing';
  #reuse: 'none' | 'checking' | 'failed' = 'none';
  #error: Error | undefined;
  #waiters: Array<() => void> = [];
  readonly #listeners = new Set<() => void>();

  constructor(
    /** Where the bytes are while downloading (`.partial`). */
    readonly partialPath: string,
    /** Where they are once proven (the partial file renamed). */
    readonly finalPath: string,
    readonly size: number,
  ) {}

  /** Bytes on disk that readers may read. */
  get available(): number {
    return this.#available;
  }

  /**
   * Bytes on disk that a prover may read before they are proven: `available`, or the whole file
   * while the cache checks the SHA-256 of an earlier download's file again. A proof of those bytes
   * counts only once the check has passed (`reuse`).
   */
  get onDisk(): number {
    return this.#reuse === 'checking' ? this.size : this.#available;
  }

  /**
   * Whether the file is an earlier download's: `checking` while its SHA-256 is checked again,
   * `failed` when the check failed and the object is downloaded again (whatever was read of the
   * old file is void), `none` for a file downloaded now.
   */
  get reuse(): 'none' | 'checking' | 'failed' {
    return this.#reuse;
  }

  /** The cache checks an earlier download's file again (size and SHA-256) before it is used. */
  checkingReuse(): void {
    this.#reuse = 'checking';
    this.#wake();
  }

  /** That check failed: the old file is gone and the object is downloaded again into this one. */
  reuseFailed(): void {
    this.#reuse = 'failed';
    this.#wake();
  }

  get proven(): boolean {
    return this.#state === 'proven';
  }

  /** `n` bytes from offset 0 are on disk (they never change again unless the download fails). */
  grew(n: number): void {
    if (n <= this.#available) return;
    this.#available = n;
    this.#wake();
  }

  /** The whole object is on disk at `finalPath` with its size and SHA-256 proven. */
  prove(): void {
    this.#available = this.size;
    this.#state = 'proven';
    this.#wake();
  }

  /** The download failed for good: readers end with `err`. */
  fail(err: Error): void {
    if (this.#state !== 'growing') return;
    this.#state = 'failed';
    this.#error = err;
    this.#wake();
  }

  get failed(): boolean {
    return this.#state === 'failed';
  }

  /** Calls `listener` after every change (more bytes, proven, failed); returns the unsubscribe. */
  watch(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * A positional reader of the object's bytes as they reach the disk: `readAt` waits for bytes
   * not written yet, never returns bytes past what is written, returns 0 only at the end of a
   * proven file, and fails with the download's error when it fails for good. Close it when done.
   */
  reader(): GrowingFileReader {
    // Opened on the first read.
    let opening: Promise<FileHandle> | undefined;
    return {
      readAt: async (buf, position, signal) => {
        for (;;) {
          if (this.#state === 'failed') throw this.#error;
          signal?.throwIfAborted();
          if (position < this.#available) {
            opening ??= this.#open();
            const fh = await opening;
            const want = Math.min(buf.length, this.#available - position);
            let bytesRead: number;
            try {
              ({ bytesRead } = await fh.read(buf, 0, want, position));
            } catch (err) {
              // A failed download may remove its file under a reader: report why it failed.
              throw this.failed ? this.#error : err;
            }
            if (bytesRead === 0) throw new Error(`cache file ${this.partialPath} shrank under a reader at ${position}`);
            return bytesRead;
          }
          if (this.#state === 'proven') return 0;
          await this.#changed(signal);
        }
      },
      close: async () => {
        if (!opening) return;
        let fh: FileHandle;
        try {
          fh = await opening;
        } catch {
          return; // the open failed: readAt reported it
        }
        await fh.close();
      },
    };
  }

  /** Resolves at the next change, or rejects when `signal` aborts first. */
  #changed(signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.#waiters = this.#waiters.filter((w) => w !== wake);
        reject(signal?.reason);
      };
      const wake = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      };
      this.#waiters.push(wake);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  async #open(): Promise<FileHandle> {
    if (this.#state === 'proven') return open(this.finalPath, 'r');
    try {
      return await open(this.partialPath, 'r');
    } catch (err) {
      // Proven and renamed (or reused from the cache): the final file holds the same bytes.
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return open(this.finalPath, 'r');
      throw err;
    }
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
    for (const l of this.#listeners) l();
  }
}
