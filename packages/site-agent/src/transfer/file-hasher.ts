import { Worker } from 'node:worker_threads';

/**
 * The worker's code: SHA-256 of a file's bytes in order, from two sources. Bytes already on disk
 * (a whole cached file, or the part a resumed download kept) are read back with one reused buffer;
 * bytes being downloaded are hashed straight from the download's shared write buffers, so they are
 * never read back. Messages in: `{ available }` (hash the file up to there), `{ slot, n }` (hash
 * the first `n` bytes of shared buffer `slot`; answered `{ hashed: slot }`), `{ end }` (the size
 * to prove, all of it on disk); out: `{ sha256, size }` once `end` bytes are hashed, or `{ error }`. Plain JS run with
 * `eval`, so the same code works from the sources (tests) and from dist without a second file.
 */
const WORKER_SOURCE = `
const { createHash } = require('node:crypto');
const { closeSync, openSync, readSync } = require('node:fs');
const { parentPort, workerData } = require('node:worker_threads');
const READ_BYTES = 1 << 20;
const path = workerData.path;
const shared = (workerData.shared || []).map((sab) => Buffer.from(sab));
const hash = createHash('sha256');
let buf;
let fd;
let pos = 0;
let available = 0;
let end;
function fail(err) {
  parentPort.postMessage({ error: err.message });
}
function pump() {
  if (fd === undefined) fd = openSync(path, 'r');
  buf ??= Buffer.allocUnsafe(READ_BYTES);
  while (pos < available) {
    const n = readSync(fd, buf, 0, Math.min(READ_BYTES, available - pos), pos);
    if (n === 0) throw new Error(path + ' is shorter than the ' + available + ' bytes written to it');
    hash.update(buf.subarray(0, n));
    pos += n;
  }
}
function finish() {
  if (end === undefined || pos < end) return;
  if (fd !== undefined) closeSync(fd);
  parentPort.postMessage({ sha256: hash.digest('hex'), size: pos });
}
parentPort.on('message', (m) => {
  try {
    if (m.slot !== undefined) {
      hash.update(shared[m.slot].subarray(0, m.n));
      pos += m.n;
      parentPort.postMessage({ hashed: m.slot });
    }
    if (m.end !== undefined) end = m.end;
    // Bytes up to \`end\` are on disk: what no batch brought is read back.
    const onDisk = Math.max(m.available ?? 0, end ?? 0);
    if (onDisk > pos) {
      available = onDisk;
      pump();
    }
    finish();
  } catch (err) {
    fail(err);
  }
});
`;

export interface FileHasherOptions {
  /**
   * Buffers the download writes through, shared with the worker (`batch()` hashes one of them).
   * @default none: the hasher only reads the file back
   */
  sharedBuffers?: { count: number; bytes: number };
}

/**
 * SHA-256 of a cache file in a worker thread, so hashing never holds up the socket: a whole file
 * (`grew(size)` then `digest(size)`), or a download in progress. A download hashes each batch from
 * the same shared buffer it writes to disk (`buffers`, `batch()`), in file order, so its bytes are
 * hashed without being read back (measured on the 2-core bench machine: reading a GiB back from
 * the page cache cost another core's 0.1–0.2 s and trailed the last byte); a resumed download's
 * kept bytes are read back first (`grew(kept)`).
 */
export class FileHasher {
  readonly #worker: Worker;
  /** Resolves (never rejects) with the worker's answer, so an unused hasher leaves no unhandled rejection. */
  readonly #result: Promise<{ sha256: string; size: number } | { error: Error }>;
  /** Batches sent to the worker and not hashed yet, in order (the worker answers in order). */
  readonly #pending: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  /** The shared buffers (`sharedBuffers`), for the download's writer. */
  readonly buffers: Buffer[];
  #failed: Error | undefined;

  constructor(path: string, options: FileHasherOptions = {}) {
    const { count = 0, bytes = 0 } = options.sharedBuffers ?? {};
    const shared = Array.from({ length: count }, () => new SharedArrayBuffer(bytes));
    this.buffers = shared.map((sab) => Buffer.from(sab));
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path, shared } });
    this.#result = new Promise((resolve) => {
      const failed = (error: Error) => {
        this.#failed ??= error;
        for (const p of this.#pending.splice(0)) p.reject(error);
        resolve({ error });
      };
      this.#worker.on('message', (m: { hashed?: number; sha256?: string; size?: number; error?: string }) => {
        if (m.hashed !== undefined) this.#pending.shift()?.resolve();
        else if (m.error !== undefined) failed(new Error(`hashing ${path}: ${m.error}`));
        else resolve({ sha256: m.sha256!, size: m.size! });
      });
      this.#worker.once('error', failed);
      this.#worker.once('exit', (code) => failed(new Error(`hash worker for ${path} exited (${code})`)));
    });
  }

  /** Bytes from offset 0 that are on disk and may be read back and hashed. */
  grew(available: number): void {
    this.#worker.postMessage({ available });
  }

  /** Hashes the first `n` bytes of `buffers[slot]` (the file's next bytes); resolves once the buffer may be reused. */
  batch(slot: number, n: number): Promise<void> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      this.#pending.push({ resolve, reject });
      this.#worker.postMessage({ slot, n });
    });
  }

  /** The SHA-256 of the file's first `size` bytes, once they are all hashed; ends the worker. */
  async digest(size: number): Promise<{ sha256: string; size: number }> {
    this.#worker.postMessage({ end: size });
    const result = await this.#result;
    await this.#worker.terminate();
    if ('error' in result) throw result.error;
    return result;
  }

  /** Stops hashing (the download failed or was aborted). */
  async stop(): Promise<void> {
    await this.#worker.terminate();
  }
}
