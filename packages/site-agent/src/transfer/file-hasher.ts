import type { Hash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';

/** Bytes read at a time when a file is hashed from disk. */
const READ_BYTES = 1 << 20;

/**
 * The worker's code: SHA-256 of the file `workerData.path`, read with one reused buffer; posts
 * `{ sha256, size }` or `{ error }`. Plain JS run with `eval`, so the same code works from the
 * sources (tests) and from dist without a second file.
 */
const WORKER_SOURCE = `
const { createHash } = require('node:crypto');
const { closeSync, openSync, readSync } = require('node:fs');
const { parentPort, workerData } = require('node:worker_threads');
try {
  const fd = openSync(workerData.path, 'r');
  const buf = Buffer.allocUnsafe(${READ_BYTES});
  const hash = createHash('sha256');
  let size = 0;
  for (let n; (n = readSync(fd, buf, 0, buf.length, size)) > 0; size += n) hash.update(buf.subarray(0, n));
  closeSync(fd);
  parentPort.postMessage({ sha256: hash.digest('hex'), size });
} catch (err) {
  parentPort.postMessage({ error: err.message });
}
`;

/**
 * SHA-256 and size of a whole file (a cached image checked before it is reused) in a worker
 * thread: the read and the hash take another core, and the worker hands back one answer, so the
 * event loop stays free for the transfers under way.
 */
export async function hashFile(path: string): Promise<{ size: number; sha256: string }> {
  await stat(path); // a missing file fails here, with the caller's stack and the usual ENOENT
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { path } });
  try {
    const answer = await new Promise<{ sha256?: string; size?: number; error?: string }>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.once('exit', (code) => reject(new Error(`hash worker for ${path} exited (${code})`)));
    });
    if (answer.error !== undefined) throw new Error(`hashing ${path}: ${answer.error}`);
    return { sha256: answer.sha256!, size: answer.size! };
  } finally {
    await worker.terminate();
  }
}

/**
 * Feeds the first `bytes` bytes of the file into `hash`, on this thread: a resumed download's kept
 * part, hashed before the rest arrives (the download hashes each new batch into the same `hash`).
 */
export async function hashPrefix(path: string, bytes: number, hash: Hash): Promise<void> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(Math.min(bytes, READ_BYTES));
    for (let pos = 0; pos < bytes; ) {
      const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, bytes - pos), pos);
      if (bytesRead === 0) throw new Error(`${path} is shorter than the ${bytes} bytes it kept`);
      hash.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
  } finally {
    await fh.close();
  }
}
