import { randomBytes } from 'node:crypto';
import { type FileHandle, mkdtemp, open, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BatchFileSinkOptions, BatchFileWriter } from '../src/transfer/batch-file-sink.js';

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

const buffers = (count: number, bytes: number) => ({ count, bytes });

/** A writer from position 0 that fails with 'too long' past `maxBytes`; `extra` sets the rest. */
const writerFor = (file: FileHandle, maxBytes: number, extra: Partial<BatchFileSinkOptions> = {}) =>
  new BatchFileWriter({
    file,
    position: 0,
    maxBytes,
    tooLong: () => new Error('too long'),
    onWritten: () => {},
    ...extra,
  });

describe('BatchFileWriter', () => {
  it('writes every byte in order after `position` and counts only completed writes, in batches', async () => {
    const path = join(dir, 'a');
    const prefix = Buffer.from('already on disk');
    const file = await open(path, 'w');
    await file.write(prefix);
    // Chunks that straddle the 1000-byte batches, one larger than a batch.
    const { data, source } = chunked([700, 700, 2500, 13, 1]);
    const written: number[] = [];
    const writer = writerFor(file, data.length, {
      position: prefix.length,
      onWritten: (n) => written.push(n),
      buffers: buffers(2, 1000),
    });
    await pipeline(source, writer.stream());
    await file.close();
    expect(await readFile(path)).toEqual(Buffer.concat([prefix, data]));
    expect(written).toEqual([1000, 1000, 1000, 914]);
  });

  it('ends with the tooLong error once more than maxBytes arrive', async () => {
    const file = await open(join(dir, 'b'), 'w');
    const { source } = chunked([600, 600]);
    const writer = writerFor(file, 1000, {
      tooLong: () => new Error('more than 1000 bytes'),
      buffers: buffers(4, 512),
    });
    await expect(pipeline(source, writer.stream())).rejects.toThrow('more than 1000 bytes');
    await writer.settled();
    await file.close();
    expect(writer.writeFailed).toBe(false);
  });

  it('reports a failed write (a closed file) so the caller never resumes in place after it', async () => {
    const file = await open(join(dir, 'c'), 'w');
    await file.close();
    const { source } = chunked([3000]);
    const writer = writerFor(file, 3000, {
      buffers: buffers(4, 1000),
    });
    await expect(pipeline(source, writer.stream())).rejects.toThrow();
    await writer.settled();
    expect(writer.writeFailed).toBe(true);
  });

  it('take() copies at once, says when both buffers are full, and takes the rest after room()', async () => {
    const path = join(dir, 'd');
    const file = await open(path, 'w');
    const data = randomBytes(2600);
    const written: number[] = [];
    const writer = writerFor(file, data.length, {
      onWritten: (n) => written.push(n),
      buffers: buffers(2, 1000),
    });
    // One reused "socket buffer": the writer must have copied the bytes before it is overwritten.
    const reused = Buffer.from(data);
    // The first buffer is being written and the second fills: 2000 of 2600 fit now.
    expect(writer.take(reused)).toBe(2000);
    const rest = Buffer.from(reused.subarray(2000));
    reused.fill(0);
    await writer.room();
    expect(writer.take(rest)).toBe(600);
    rest.fill(0);
    await writer.finish();
    await file.close();
    expect(await readFile(path)).toEqual(data);
    expect(written).toEqual([1000, 1000, 600]);
  });

  it('hands each batch to onBatch in file order, before its write, valid during the call', async () => {
    const path = join(dir, 'e');
    const file = await open(path, 'w');
    const { data, source } = chunked([900, 900, 900, 900, 300]);
    const seen: Buffer[] = [];
    const writer = writerFor(file, data.length, {
      buffers: buffers(2, 1000),
      // A copy made during the call: what the download hashes must be exactly the file's next bytes.
      onBatch: (bytes) => seen.push(Buffer.from(bytes)),
    });
    await pipeline(source, writer.stream());
    await file.close();
    expect(seen.map((b) => b.length)).toEqual([1000, 1000, 1000, 900]);
    expect(Buffer.concat(seen)).toEqual(data);
    expect(await readFile(path)).toEqual(data);
  });

  it('counts every batch it handed to onBatch once settled() after the source failed part-way', async () => {
    const file = await open(join(dir, 'f'), 'w');
    let batched = 0;
    let written = 0;
    const writer = writerFor(file, 10_000, {
      buffers: buffers(4, 1000),
      onBatch: (bytes) => {
        batched += bytes.length;
      },
      onWritten: (n) => {
        written += n;
      },
    });
    // 3500 bytes, then the "socket" resets: the half-full buffer is neither hashed nor written.
    const source = Readable.from(
      (async function* () {
        yield randomBytes(3500);
        throw new Error('connection reset');
      })(),
    );
    await expect(pipeline(source, writer.stream())).rejects.toThrow('connection reset');
    await writer.settled();
    await file.close();
    expect(batched).toBe(3000);
    expect(written).toBe(batched);
    expect(writer.writeFailed).toBe(false);
  });
});
