import { type FileHandle, open } from 'node:fs/promises';
import { Readable } from 'node:stream';

/** Bytes per read of the tail reader: large reads keep syscalls and stream overhead off the profile. */
const TAIL_READ_BYTES = 1 << 20;

/** What a reader needs of a growing cache file (the importer's view; unit tests fake it in memory). */
export type ReadableGrowingFile = Pick<GrowingFile, 'read'>;

/**
 * The cache file of one download while it grows: how many bytes are on disk (written and
 * counted), and whether the whole object is proven (size and SHA-256) or failed for good.
 * Readers follow it with `read()`, so an import can stream from the cache while the
 * download is still filling it; the cache stays the resumable copy.
 */
export class GrowingFile {
  #available = 0;
  #state: 'growing' | 'proven' | 'failed' = 'growing';
  #error: Error | undefined;
  #waiters: Array<() => void> = [];

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

  /**
   * The object's bytes from offset 0 as they reach the disk. The stream ends only once the
   * whole object is proven, and errors with the download's error when it fails for good, so
   * a consumer never sees the end of an unproven object.
   */
  read(signal?: AbortSignal): Readable {
    // Opened on the first read; destroy() closes it even when it is still opening.
    let opening: Promise<FileHandle> | undefined;
    let pos = 0;
    const stream: Readable = new Readable({
      highWaterMark: TAIL_READ_BYTES,
      signal,
      read: (size) => {
        void (async () => {
          try {
            for (;;) {
              if (this.#state === 'failed') throw this.#error;
              if (pos < this.#available) {
                opening ??= this.#open();
                const fh = await opening;
                const want = Math.min(Math.max(size, TAIL_READ_BYTES), this.#available - pos);
                // Fresh buffers: pushed chunks stay referenced downstream until uploaded.
                const buf = Buffer.allocUnsafe(want);
                const { bytesRead } = await fh.read(buf, 0, want, pos);
                if (bytesRead === 0) throw new Error(`cache file ${this.partialPath} shrank under a reader at ${pos}`);
                pos += bytesRead;
                stream.push(bytesRead === want ? buf : buf.subarray(0, bytesRead));
                return;
              }
              if (this.#state === 'proven') {
                stream.push(null);
                return;
              }
              await new Promise<void>((resolve) => this.#waiters.push(resolve));
            }
          } catch (err) {
            // A failed download may remove its file under a reader: report why it failed, not ENOENT.
            stream.destroy(this.#state === 'failed' ? this.#error : (err as Error));
          }
        })();
      },
      destroy(err, cb) {
        if (!opening) return cb(err);
        opening
          .then((fh) => fh.close())
          .then(
            () => cb(err),
            // The open failed (already reported by the read) or the close did: the first error wins.
            (closeErr: unknown) => cb(err ?? (closeErr as Error)),
          );
      },
    });
    return stream;
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
  }
}
