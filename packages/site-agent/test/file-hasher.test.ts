/** hashFile (a whole file, in a worker) and hashPrefix (a resumed download's kept bytes). */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashFile, hashPrefix } from '../src/transfer/file-hasher.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-hasher-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('hashFile', () => {
  it('hashes a whole file larger than its read buffer', async () => {
    const data = randomBytes(3 * 2 ** 20 + 17);
    const path = join(dir, 'whole');
    await writeFile(path, data);
    expect(await hashFile(path)).toEqual({ sha256: sha256(data), size: data.length });
  });

  it('fails with ENOENT for a missing file', async () => {
    await expect(hashFile(join(dir, 'none'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('hashPrefix', () => {
  it('feeds only the kept bytes, then the caller goes on with the rest', async () => {
    const data = randomBytes(2 ** 20 + 4000);
    const kept = 2 ** 20 + 1000;
    const path = join(dir, 'resumed');
    // On disk: the bytes a cut download kept, and garbage after them that must never be hashed.
    await writeFile(path, Buffer.concat([data.subarray(0, kept), Buffer.from('garbage')]));
    const hash = createHash('sha256');
    await hashPrefix(path, kept, hash);
    hash.update(data.subarray(kept));
    expect(hash.digest('hex')).toBe(sha256(data));
  });

  it('names the file when it is shorter than the bytes it should have kept', async () => {
    const path = join(dir, 'short');
    await writeFile(path, Buffer.alloc(10));
    await expect(hashPrefix(path, 20, createHash('sha256'))).rejects.toThrow(`${path} is shorter than the 20 bytes`);
  });
});
