import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { WorkerSha256 } from '../src/ova/worker-sha256.js';

const sha256 = (...parts: Buffer[]) => {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
};

describe('WorkerSha256', () => {
  it('hashes streams one after the other, across ring wraps and chunks larger than the ring', async () => {
    const hasher = new WorkerSha256();
    try {
      // 8 MiB ring: 3 MiB chunks wrap it; a 20 MiB chunk is larger than the ring.
      const first = [randomBytes(3 << 20), randomBytes(3 << 20), randomBytes(3 << 20), randomBytes(1)];
      for (const c of first) await hasher.update(c);
      expect(await hasher.digest()).toBe(sha256(...first));

      const big = randomBytes(20 << 20);
      await hasher.update(big);
      expect(await hasher.digest()).toBe(sha256(big));

      expect(await hasher.digest()).toBe(sha256());
    } finally {
      await hasher.close();
    }
  });

  it('copies each chunk: the caller may reuse its buffer as soon as update resolves', async () => {
    const hasher = new WorkerSha256();
    try {
      const buf = Buffer.alloc(1 << 20, 1);
      const expected = createHash('sha256');
      for (let i = 0; i < 12; i++) {
        buf.fill(i);
        expected.update(buf);
        await hasher.update(buf);
      }
      expect(await hasher.digest()).toBe(expected.digest('hex'));
    } finally {
      await hasher.close();
    }
  });

  it('fails updates and digests after close', async () => {
    const hasher = new WorkerSha256();
    await hasher.close();
    await expect(hasher.update(Buffer.from('x'))).rejects.toThrow(/closed/);
    await expect(hasher.digest()).rejects.toThrow(/closed/);
  });
});
