import type { FileHandle } from 'node:fs/promises';
import { Writable } from 'node:stream';
import type { ByteSink } from '@ferry/shared';

/** Bytes per write: large writes keep syscalls few. */
export const BATCH_BYTES = 1 << 20;
/** Buffers (writes in flight at most): all the memory the sink holds. */
export const BATCH_BUFFERS = 4;

export interface BatchFileSinkOptions {
  /** The file, open for writing (not appending: writes go to explicit positions). */
  file: FileHandle;
  /** Where the first byte goes (the file's length when resuming). */
  position: number;
  /** Bytes the sink may take in all; one more is an error (made by `tooLong`). */
  maxBytes: number;
  tooLong: () => Error;
  /** After each write completed: `n` more bytes are on disk, in order. */
  onWritten: (n: number) => void;
  /** Checked before each chunk: an abort ends the stream with the signal's reason. */
  signal?: AbortSignal;
  /**
   * Each full batch, in file order, just before it is written: the download hashes it here. Called
   * synchronously; `bytes` is valid only during the call (its buffer is written, then refilled).
   */
  onBatch?: (bytes: Buffer) => void;
  /**
   * How many buffers, of how many bytes each (tests use small ones).
   * @default { count: BATCH_BUFFERS, bytes: BATCH_BYTES }
   */
  buffers?: { count: number; bytes: number };
}

/**
 * Appends bytes to a file through a few reused buffers: each chunk is copied at once (so the
 * caller may reuse its buffer, and no memory is allocated per chunk) and every full buffer is
 * written at its own file position while the next ones fill, several writes at a time (the bench
 * VM's disk took new pages at 0.4–4.5 GB/s, varying by the second; one write at a time followed
 * its slow moments). `onWritten` reports completed bytes in file order, so an in-place resume
 * starts exactly after them. `take` is synchronous (`ByteSink`, for `httpGetInto`); `stream()` is
 * the same sink as a Writable.
 */
export class BatchFileWriter implements ByteSink {
  readonly #o: BatchFileSinkOptions;
  readonly #bufs: Buffer[];
  /** Per buffer: its write, or undefined when free. Never rejects (an error is kept in `#failed`). */
  readonly #writes: Array<Promise<void> | undefined>;
  #cur = 0;
  #fill = 0;
  #received = 0;
  /** File position of the current buffer's first byte. */
  #position: number;
  /** The last write's completion, reported in file order. */
  #reported: Promise<void> = Promise.resolve();
  #failed: Error | undefined;

  constructor(options: BatchFileSinkOptions) {
    this.#o = options;
    const { count, bytes } = options.buffers ?? { count: BATCH_BUFFERS, bytes: BATCH_BYTES };
    this.#bufs = Array.from({ length: count }, () => Buffer.allocUnsafe(bytes));
    this.#writes = new Array(this.#bufs.length).fill(undefined);
    this.#position = options.position;
  }

  /** A write failed part-way: bytes after the last counted one may be on disk. */
  get writeFailed(): boolean {
    return this.#failed !== undefined;
  }

  /**
   * Resolves once no write is in flight (the file may then be closed) and each one's bytes are
   * reported: every batch handed to `onBatch` is then on disk and counted, unless a write failed.
   */
  async settled(): Promise<void> {
    await Promise.all(this.#writes);
    await this.#reported;
  }

  /** Copies what fits of `chunk`; fewer bytes than offered means every buffer is full (wait for `room()`). */
  take(chunk: Buffer): number {
    if (this.#failed) throw this.#failed;
    if (this.#o.signal?.aborted) throw this.#o.signal.reason;
    let off = 0;
    while (off < chunk.length) {
      if (this.#writes[this.#cur] !== undefined) break;
      const buf = this.#bufs[this.#cur]!;
      if (this.#received >= this.#o.maxBytes) throw this.#o.tooLong();
      const n = chunk.copy(buf, this.#fill, off, off + Math.min(chunk.length - off, this.#o.maxBytes - this.#received));
      off += n;
      this.#fill += n;
      this.#received += n;
      if (this.#fill === buf.length) this.#startWrite();
    }
    return off;
  }

  /** Resolves once the buffer to fill next is free again. */
  async room(): Promise<void> {
    await this.#writes[this.#cur];
    if (this.#failed) throw this.#failed;
  }

  /** Writes what is buffered and waits for every write; rejects with a write's error. */
  async finish(): Promise<void> {
    if (this.#fill > 0 && !this.#failed) {
      await this.room();
      this.#startWrite();
    }
    await this.settled();
    await this.#reported;
    if (this.#failed) throw this.#failed;
  }

  /** The same sink as a Writable (for stores read as streams). */
  stream(): Writable {
    return new Writable({
      // Chunks wait here only while every buffer is busy (the disk is behind the socket).
      highWaterMark: 256 << 10,
      write: (chunk: Buffer, _enc, cb) => {
        const step = (from: number): void => {
          try {
            const off = from + this.take(from === 0 ? chunk : chunk.subarray(from));
            if (off === chunk.length) cb();
            else this.room().then(() => step(off), cb);
          } catch (err) {
            cb(err as Error);
          }
        };
        step(0);
      },
      final: (cb) => {
        this.finish().then(() => cb(), cb);
      },
    });
  }

  /** Starts writing the current buffer at its position and moves on to the next buffer. */
  #startWrite(): void {
    const i = this.#cur;
    const n = this.#fill;
    this.#o.onBatch?.(this.#bufs[i]!.subarray(0, n));
    const write = writeFully(this.#o.file, this.#bufs[i]!, n, this.#position);
    const before = this.#reported;
    this.#reported = Promise.all([write, before]).then(
      () => {
        if (!this.#failed) this.#o.onWritten(n);
      },
      (err: unknown) => {
        this.#failed ??= err as Error;
      },
    );
    this.#writes[i] = write.then(
      () => {
        this.#writes[i] = undefined;
      },
      (err: unknown) => {
        this.#failed ??= err as Error;
        this.#writes[i] = undefined;
      },
    );
    this.#position += n;
    this.#cur = (i + 1) % this.#bufs.length;
    this.#fill = 0;
  }
}

/** Writes `buf[0, n)` at `position`, continuing after short writes. */
async function writeFully(file: FileHandle, buf: Buffer, n: number, position: number): Promise<void> {
  for (let off = 0; off < n; ) off += (await file.write(buf, off, n - off, position + off)).bytesWritten;
}
