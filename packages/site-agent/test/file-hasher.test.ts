/**
 * FileHasher: SHA-256 in a worker, of bytes read back from disk (a whole file, or the part a
 * resumed download kept) followed by batches hashed straight from the shared write buffers.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileHasher } from '../src/transfer/file-hasher.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-hasher-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('FileHasher', () => {
  it('hashes a whole file read back from disk', async () => {
    const data = randomBytes(3 * 2 ** 20 + 17);
    const path = join(dir, 'whole');
    await writeFile(path, data);
    expect(await new FileHasher(path).digest(data.length)).toEqual({ sha256: sha256(data), size: data.length });
  });

  it('hashes the kept part from disk, then batches from the shared buffers, in order', async () => {
    const data = randomBytes(10_000);
    const path = join(dir, 'resumed');
    // On disk: the 4000 bytes a cut download kept (and garbage after them, never to be read).
    await writeFile(path, Buffer.concat([data.subarray(0, 4000), Buffer.from('garbage')]));
    const hasher = new FileHasher(path, { sharedBuffers: { count: 2, bytes: 2500 } });
    hasher.grew(4000);
    for (let off = 4000, slot = 0; off < data.length; off += 2500, slot ^= 1) {
      const n = data.copy(hasher.buffers[slot]!, 0, off, off + 2500);
      await hasher.batch(slot, n);
      hasher.buffers[slot]!.fill(0); // reused at once: the worker must be done with it
    }
    expect(await hasher.digest(data.length)).toEqual({ sha256: sha256(data), size: data.length });
  });

  it('a stopped hasher fails the batches still waiting', async () => {
    const hasher = new FileHasher(join(dir, 'none'), { sharedBuffers: { count: 1, bytes: 10 } });
    await hasher.stop();
    await expect(hasher.batch(0, 10)).rejects.toThrow(/exited/);
  });
});
