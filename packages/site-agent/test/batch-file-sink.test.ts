import { randomBytes } from 'node:crypto';
import { mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BatchFileSink } from '../src/transfer/batch-file-sink.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-sink-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Chunks of the given sizes, from one random buffer (returned too). */
function chunked(sizes: number[]): { data: Buffer; source: Readable } {
  const data = randomBytes(sizes.reduce((a, b) => a + b, 0));
  const chunks: Buffer[] = [];
  let off = 0;
  for (const s of sizes) {
    chunks.push(data.subarray(off, off + s));
    off += s;
  }
  return { data, source: Readable.from(chunks) };
}

describe('BatchFileSink', () => {
  it('appends every byte in order and counts only completed writes, in batches', async () => {
    const path = join(dir, 'a');
    const prefix = Buffer.from('already on disk');
    const file = await open(path, 'w');
    await file.write(prefix);
    // Chunks that straddle the 1000-byte batches, one larger than a batch.
    const { data, source } = chunked([700, 700, 2500, 13, 1]);
    const written: number[] = [];
    const sink = new BatchFileSink({
      file,
      maxBytes: data.length,
      tooLong: () => new Error('too long'),
      onWritten: (n) => written.push(n),
      batchBytes: 1000,
    });
    await pipeline(source, sink);
    await file.close();
    expect(await readFile(path)).toEqual(Buffer.concat([prefix, data]));
    expect(written).toEqual([1000, 1000, 1000, 914]);
  });

  it('ends with the tooLong error once more than maxBytes arrive', async () => {
    const file = await open(join(dir, 'b'), 'w');
    const { source } = chunked([600, 600]);
    const sink = new BatchFileSink({
      file,
      maxBytes: 1000,
      tooLong: () => new Error('more than 1000 bytes'),
      onWritten: () => {},
      batchBytes: 512,
    });
    await expect(pipeline(source, sink)).rejects.toThrow('more than 1000 bytes');
    await sink.settled();
    await file.close();
    expect(sink.writeFailed).toBe(false);
  });

  it('reports a failed write (a closed file) so the caller never resumes in place after it', async () => {
    const file = await open(join(dir, 'c'), 'w');
    await file.close();
    const { source } = chunked([3000]);
    const sink = new BatchFileSink({
      file,
      maxBytes: 3000,
      tooLong: () => new Error('too long'),
      onWritten: () => {},
      batchBytes: 1000,
    });
    await expect(pipeline(source, sink)).rejects.toThrow();
    await sink.settled();
    expect(sink.writeFailed).toBe(true);
  });
});
