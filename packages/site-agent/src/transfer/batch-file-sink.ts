import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';

/** Bytes per write: large writes keep syscalls few; two of them are all the memory the sink holds. */
export const BATCH_BYTES = 4 << 20;

export interface BatchFileSinkOptions {
  /** The file, opened for appending. */
  file: FileHandle;
  /** Bytes the sink may take in all; one more is an error (made by `tooLong`). */
  maxBytes: number;
  tooLong: () => Error;
  /** After each write completed: `n` more bytes are on disk, in order. */
  onWritten: (n: number) => void;
  /** Checked before each chunk: an abort ends the stream with the signal's reason. */
  signal?: AbortSignal;
  batchBytes?: number;
}

/**
 * Appends a byte stream to a file through two reused buffers: each incoming chunk is copied
 * right away (so the socket's buffers die young and never reach V8's old space: the download
 * profile spent ~45 % of the main thread in mark-compact GCs of retained 64 KiB socket buffers)
 * and a full buffer is written while the other one fills. `onWritten` counts only bytes whose
 * write completed, so an in-place resume starts exactly after them.
 */
export class BatchFileSink extends Writable {
  readonly #o: BatchFileSinkOptions;
  readonly #bufs: [Buffer, Buffer];
  #cur: 0 | 1 = 0;
  #fill = 0;
  #received = 0;
  /** The write of the other buffer; never rejects (its error is kept in `#failed`). */
  #inflight: Promise<void> = Promise.resolve();
  #failed: Error | undefined;

  constructor(options: BatchFileSinkOptions) {
    // Chunks wait here only while both buffers are busy (the disk is behind the socket).
    super({ highWaterMark: 256 << 10 });
    this.#o = options;
    const size = options.batchBytes ?? BATCH_BYTES;
    this.#bufs = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)];
  }

  /** A write failed part-way: bytes after the last counted one may be on disk. */
  get writeFailed(): boolean {
    return this.#failed !== undefined;
  }

  /** Resolves once no write is in flight (the file may then be closed). */
  async settled(): Promise<void> {
    await this.#inflight;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.#o.signal?.aborted) {
      cb(this.#o.signal.reason as Error);
      return;
    }
    this.#received += chunk.length;
    if (this.#received > this.#o.maxBytes) {
      cb(this.#o.tooLong());
      return;
    }
    let off = 0;
    const step = (): void => {
      while (off < chunk.length) {
        const buf = this.#bufs[this.#cur];
        const n = chunk.copy(buf, this.#fill, off);
        off += n;
        this.#fill += n;
        if (this.#fill === buf.length) {
          this.#flush().then(step, cb);
          return;
        }
      }
      cb();
    };
    step();
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.#flush()
      .then(() => this.#inflight)
      .then(() => cb(this.#failed ?? null), cb);
  }

  /** Waits for the other buffer's write, then starts writing the current one and switches. */
  async #flush(): Promise<void> {
    await this.#inflight;
    if (this.#failed) throw this.#failed;
    const n = this.#fill;
    if (n === 0) return;
    const buf = this.#bufs[this.#cur];
    this.#inflight = writeFully(this.#o.file, buf, n).then(
      () => this.#o.onWritten(n),
      (err: unknown) => {
        this.#failed = err as Error;
      },
    );
    this.#cur = this.#cur === 0 ? 1 : 0;
    this.#fill = 0;
  }
}

/** Appends `buf[0, n)` at the file's position, continuing after short writes. */
async function writeFully(file: FileHandle, buf: Buffer, n: number): Promise<void> {
  for (let off = 0; off < n; ) off += (await file.write(buf, off, n - off)).bytesWritten;
}
