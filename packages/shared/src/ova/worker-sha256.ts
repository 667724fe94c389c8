import { Worker } from 'node:worker_threads';

/**
 * The worker's code: one SHA-256 per stream of bytes, read from a ring shared with the caller.
 * Messages in: `{ at, n }` (hash `ring[at, at + n)`, then answer `{ acked: n }` so the caller may
 * overwrite it), `{ end: true }` (answers `{ sha256 }` and starts a new hash). Plain JS run with
 * `eval`, so the same code works from the sources and from dist.
 */
const WORKER_SOURCE = `
const { createHash } = require('node:crypto');
const { parentPort, workerData } = require('node:worker_threads');
const ring = Buffer.from(workerData.ring);
let hash = createHash('sha256');
parentPort.on('message', (m) => {
  if (m.n !== undefined) {
    hash.update(ring.subarray(m.at, m.at + m.n));
    parentPort.postMessage({ acked: m.n });
  } else if (m.end) {
    parentPort.postMessage({ sha256: hash.digest('hex') });
    hash = createHash('sha256');
  }
});
`;

/** The shared ring: bytes copied but not yet hashed; a full ring makes `update` wait. */
const RING_BYTES = 8 << 20;

/**
 * SHA-256 of a sequence of byte streams (one OVA's entries, one after the other) in a worker
 * thread: on the 2-core bench machine the per-entry hash was ~7 % of the import's main thread,
 * which also parses the tar and encrypts TLS; here it runs on the other core. Each chunk is
 * copied into a ring shared with the worker (a memcpy, far cheaper than hashing it, and no
 * allocation: a fresh buffer per chunk would feed the GC, see BatchFileSink in site-agent).
 */
export class WorkerSha256 {
  readonly #worker: Worker;
  readonly #ring: Buffer;
  #head = 0;
  #inFlight = 0;
  #error: Error | undefined;
  #waitingRoom: (() => void) | undefined;
  #waitingDigest: { resolve: (sha256: string) => void; reject: (err: Error) => void } | undefined;

  constructor() {
    const ring = new SharedArrayBuffer(RING_BYTES);
    this.#ring = Buffer.from(ring);
    this.#worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ring } });
    // Referenced only while a caller waits for it (see #wait), so an abandoned hasher never holds the process.
    this.#worker.unref();
    this.#worker.on('message', (m: { acked?: number; sha256?: string }) => {
      if (m.acked !== undefined) {
        this.#inFlight -= m.acked;
        this.#wakeRoom();
      } else if (m.sha256 !== undefined) {
        const waiting = this.#waitingDigest;
        this.#waitingDigest = undefined;
        waiting?.resolve(m.sha256);
      }
    });
    const failed = (err: Error) => {
      this.#error ??= err;
      this.#wakeRoom();
      this.#waitingDigest?.reject(this.#error);
      this.#waitingDigest = undefined;
    };
    this.#worker.once('error', failed);
    this.#worker.once('exit', (code) => failed(new Error(`SHA-256 worker exited (${code})`)));
  }

  /** Hashes `chunk` (copied now: the caller may reuse it once this resolves); waits while the ring is full. */
  async update(chunk: Buffer): Promise<void> {
    for (let off = 0; off < chunk.length; ) {
      if (this.#error) throw this.#error;
      const n = Math.min(chunk.length - off, RING_BYTES - this.#inFlight, RING_BYTES - this.#head);
      if (n === 0) {
        await this.#wait(
          new Promise<void>((resolve) => {
            this.#waitingRoom = resolve;
          }),
        );
        continue;
      }
      chunk.copy(this.#ring, this.#head, off, off + n);
      this.#worker.postMessage({ at: this.#head, n });
      this.#inFlight += n;
      this.#head = (this.#head + n) % RING_BYTES;
      off += n;
    }
  }

  /** The hex SHA-256 of everything updated since the last digest; the next update starts a new hash. */
  digest(): Promise<string> {
    if (this.#error) return Promise.reject(this.#error);
    return this.#wait(
      new Promise((resolve, reject) => {
        this.#waitingDigest = { resolve, reject };
        this.#worker.postMessage({ end: true });
      }),
    );
  }

  async #wait<T>(answer: Promise<T>): Promise<T> {
    this.#worker.ref();
    try {
      return await answer;
    } finally {
      this.#worker.unref();
    }
  }

  async close(): Promise<void> {
    this.#error ??= new Error('SHA-256 worker closed');
    await this.#worker.terminate();
  }

  #wakeRoom(): void {
    const wake = this.#waitingRoom;
    this.#waitingRoom = undefined;
    wake?.();
  }
}
