import { Worker } from 'node:worker_threads';

/**
 * The worker's code: SHA-256 of a file that may still be growing, read back from the page cache
 * with one reused buffer (hashed synchronously, so it is free again after each read). Messages in:
 * `{ available }` (bytes on disk), `{ end }` (the size to prove); out: `{ sha256, size }` once
 * `end` bytes are hashed, or `{ error }`. Plain JS run with `eval`, so the same code works from
 * the sources (tests) and from dist without a second file to locate.
 */
const WORKER_SOURCE = `
const { createHash } = require('node:crypto');
const { closeSync, openSync, readSync } = require('node:fs');
const { parentPort, workerData } = require('node:worker_threads');
const READ_BYTES = 1 << 20;
const path = workerData.path;
const hash = createHash('sha256');
const buf = Buffer.allocUnsafe(READ_BYTES);
let fd;
let pos = 0;
let available = 0;
let end;
function pump() {
  try {
    if (fd === undefined) fd = openSync(path, 'r');
    while (pos < available) {
      const n = readSync(fd, buf, 0, Math.min(READ_BYTES, available - pos), pos);
      if (n === 0) throw new Error(path + ' is shorter than the ' + available + ' bytes written to it');
      hash.update(buf.subarray(0, n));
      pos += n;
    }
    if (end !== undefined && pos >= end) {
      closeSync(fd);
      parentPort.postMessage({ sha256: hash.digest('hex'), size: pos });
    }
  } catch (err) {
    parentPort.postMessage({ error: err.message });
  }
}
parentPort.on('message', (m) => {
  if (m.available !== undefined) available = Math.max(available, m.available);
  if (m.end !== undefined) {
    end = m.end;
    available = Math.max(available, m.end);
  }
  if (available > pos || end !== undefined) pump();
});
`;

/**
 * SHA-256 of a cache file in a worker thread, following it while it grows: the download tells it
 * how many bytes are on disk and, at the end, the size to prove. Measured on the 2-core bench
 * machine, hashing beside the socket in the main thread was the top item of the download profile;
 * here it runs on the other core, reading the bytes back from the page cache.
 */
export class FileHasher {
  readonly #worker: Worker;
  /** Resolves (never rejects) with the worker's answer, so an unused hasher leaves no unhandled rejection. */
  readonly #result: Promise<{ sha256: string; size: number } | { error: Error }>;

  constructor(path: string) {
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path } });
    this.#result = new Promise((resolve) => {
      this.#worker.once('message', (m: { sha256?: string; size?: number; error?: string }) => {
        if (m.error !== undefined) resolve({ error: new Error(`hashing ${path}: ${m.error}`) });
        else resolve({ sha256: m.sha256!, size: m.size! });
      });
      this.#worker.once('error', (error) => resolve({ error }));
      this.#worker.once('exit', (code) => resolve({ error: new Error(`hash worker for ${path} exited (${code})`) }));
    });
  }

  /** Bytes from offset 0 that are on disk and may be hashed. */
  grew(available: number): void {
    this.#worker.postMessage({ available });
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
