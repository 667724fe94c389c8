/**
 * OvaProver: the OvaReader checks in a worker over a cache file that grows while it reads. The
 * offsets it reports are where the entries' bytes really are (extended tar headers included), and
 * it accepts and refuses exactly what OvaReader (through tar-stream) does, with the same errors.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, readFile, rename, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CacheError,
  ChecksumMismatchError,
  FerryError,
  inspectOva,
  isRetryable,
  type ManifestFile,
  OvaFormatError,
} from '@ferry/shared';
import { GrowingFile, OvaProver, type ProverEntry } from '@ferry/site-agent/internal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/support/wait.js';
import { type BuiltOva, buildOva, type OvaSpec, patchDeclaredSize } from '../../../test/world/ova.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-prover-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Writes `bytes` into the growing file in three pieces, telling the file after each. */
async function grow(file: GrowingFile, bytes: Buffer): Promise<void> {
  const fh = await open(file.partialPath, 'w');
  const cuts = [0, Math.floor(bytes.length / 3), Math.floor((2 * bytes.length) / 3), bytes.length];
  for (let i = 1; i < cuts.length; i++) {
    await fh.write(bytes, cuts[i - 1], cuts[i]! - cuts[i - 1]!, cuts[i - 1]);
    file.grew(cuts[i]!);
  }
  await fh.close();
}

/** Proves the OVA (against its own file list, as a signed manifest lists it) while it is written into a growing file. */
async function prove(ova: {
  path: string;
  files: readonly ManifestFile[];
}): Promise<{ entries: ProverEntry[]; bytes: Buffer; error?: unknown; files: { name: string; sha256: string }[] }> {
  const bytes = await readFile(ova.path);
  const file = new GrowingFile(`${ova.path}.partial`, `${ova.path}.final`, bytes.length);
  const prover = new OvaProver(file, { archiveSize: bytes.length, expectedFiles: ova.files });
  const entries: ProverEntry[] = [];
  const reading = (async () => {
    for await (const e of prover.entries()) entries.push(e);
    return prover.summary();
  })();
  try {
    await grow(file, bytes);
    await rename(file.partialPath, file.finalPath); // as the cache does once the SHA-256 is proven
    file.prove();
    const summary = await reading;
    return { entries, bytes, files: summary.files };
  } catch (error) {
    return { entries, bytes, error, files: [] };
  } finally {
    await prover.stop();
  }
}

/** The prover's verdict and the stream reader's on the same bytes, with the same options. */
async function bothVerdicts(ova: { path: string; files: readonly ManifestFile[] }) {
  const verdict = (files: readonly { name: string; sha256: string }[] | undefined, error: unknown) =>
    error === undefined
      ? { files: files?.map((f) => `${f.name} ${f.sha256}`) }
      : { error: (error as Error).constructor.name, message: (error as Error).message };
  const proved = await prove(ova);
  const { size } = await import('node:fs/promises').then((fs) => fs.stat(ova.path));
  const read = await inspectOva(createReadStream(ova.path), { archiveSize: size, expectedFiles: ova.files }).then(
    (s) => verdict(s.files, undefined),
    (e: unknown) => {
      const v = verdict(undefined, e);
      // A plain (tar-stream) error reaches the importer as the prover's own wrapper.
      return e instanceof FerryError ? v : { error: 'Error', message: `proving the OVA: ${v.message}` };
    },
  );
  return { prover: verdict(proved.files, proved.error), reader: read };
}

const n = (() => {
  let i = 0;
  return () => `case${i++}`;
})();
const build = (spec: OvaSpec = {}) => buildOva(join(dir), { name: n(), diskSize: 70_000, ...spec });

describe('OvaProver accepts and refuses what OvaReader does', () => {
  const cases: Array<[string, () => Promise<BuiltOva | { path: string; files: ManifestFile[] }>]> = [
    ['a valid OVA with two disks', () => build({ disks: 2 })],
    ['a SHA1 manifest', () => build({ mfAlgorithm: 'SHA1' })],
    ['names over 100 characters (pax headers)', () => build({ name: `p${'x'.repeat(110)}` })],
    ["a disk bigger than the prover's 1 MiB block", () => build({ diskSize: 2.5 * 2 ** 20 + 3 })],
    ['a ../ entry', () => build({ mutate: (e) => [...e, { name: '../evil', body: Buffer.from('x') }] })],
    ['an absolute path', () => build({ mutate: (e) => [...e, { name: '/etc/evil', body: Buffer.from('x') }] })],
    ['a symlink', () => build({ mutate: (e) => [...e, { name: 'l.vmdk', type: 'symlink', linkname: '/etc' }] })],
    ['a hard link', () => build({ mutate: (e) => [...e, { name: 'h.vmdk', type: 'link', linkname: 'x.ovf' }] })],
    ['a device', () => build({ mutate: (e) => [...e, { name: 'd.vmdk', type: 'character-device' }] })],
    ['a directory', () => build({ mutate: (e) => [...e, { name: 'sub', type: 'directory' }] })],
    ['a duplicate entry', () => build({ mutate: (e) => [...e, { ...e[2]! }] })],
    ['an unreferenced file', () => build({ mutate: (e) => [...e, { name: 'x.iso', body: Buffer.from('x') }] })],
    ['a missing disk', () => build({ mutate: (e) => e.slice(0, 2) })],
    ['no .mf', () => build({ mutate: (e) => [e[0]!, e[2]!] })],
    ['the .mf first', () => build({ mutate: (e) => [e[1]!, e[0]!, e[2]!] })],
    [
      'a disk that disagrees with the .mf',
      () => build({ mutate: (e) => [e[0]!, e[1]!, { name: e[2]!.name, body: { size: 70_000, seed: 'other' } }] }),
    ],
    [
      'a tar bomb',
      async () => {
        const ova = await build();
        await patchDeclaredSize(ova.path, ova.files[2]!.name, 7 * 2 ** 30);
        return ova;
      },
    ],
    [
      'an archive cut in the middle of a disk',
      async () => {
        const ova = await build();
        await truncate(ova.path, ova.size - 40_000);
        return ova;
      },
    ],
    [
      'an archive cut in a header',
      async () => {
        const ova = await build({ disks: 2 });
        await truncate(ova.path, ova.size - 70_000 - 1024 - 300);
        return ova;
      },
    ],
    [
      'an archive without its end-of-archive blocks',
      async () => {
        const ova = await build();
        await truncate(ova.path, ova.size - 1024);
        return ova;
      },
    ],
    [
      'an archive cut in the padding of its last entry',
      async () => {
        const ova = await build(); // 70 000-byte disk: 368 bytes of padding after it
        await truncate(ova.path, ova.size - 1024 - 100);
        return ova;
      },
    ],
    [
      'a corrupted header checksum',
      async () => {
        const ova = await build();
        const fh = await open(ova.path, 'r+');
        await fh.write(Buffer.from('Z'), 0, 1, 0); // the first byte of the .ovf's name
        await fh.close();
        return ova;
      },
    ],
    [
      'a file that is not a tar',
      async () => {
        const path = join(dir, `${n()}.ova`);
        await writeFile(path, 'hello, I am not an OVA\n'.repeat(100));
        return { path, files: [] };
      },
    ],
  ];
  it.each(cases)('%s', async (_label, make) => {
    const { prover, reader } = await bothVerdicts(await make());
    expect(prover).toEqual(reader);
  });
});

describe('OvaProver', () => {
  it('reports each entry with the offset of its bytes and proves them all, as the file grows', async () => {
    const ova = await buildOva(dir, { name: 'plain', diskSize: 3 * 1024 * 1024 + 5, disks: 2 });
    const { entries, bytes, files, error } = await prove(ova);
    expect(error).toBeUndefined();
    expect(entries.map((e) => e.name)).toEqual(['plain.ovf', 'plain.mf', 'plain-disk1.vmdk', 'plain-disk2.vmdk']);
    for (const e of entries) {
      const f = files.find((x) => x.name === e.name)!;
      expect(sha256(bytes.subarray(e.offset, e.offset + e.size))).toBe(f.sha256);
    }
  });

  it('finds the bytes behind extended (pax) headers: names over 100 characters', async () => {
    const name = `long-${'n'.repeat(100)}`;
    const ova = await buildOva(dir, { name, diskSize: 70_000 });
    const { entries, bytes, files, error } = await prove(ova);
    expect(error).toBeUndefined();
    const disk = entries.find((e) => e.name === `${name}-disk1.vmdk`)!;
    expect(sha256(bytes.subarray(disk.offset, disk.offset + disk.size))).toBe(
      files.find((f) => f.name === disk.name)!.sha256,
    );
  });

  it('fails with the reader’s own error: a .mf mismatch names the entry, as inspectOva does', async () => {
    const ova = await buildOva(dir, {
      name: 'tampered',
      diskSize: 200_000,
      disks: 2,
      mutate: (e) => [...e.slice(0, -1), { name: e.at(-1)!.name, body: { size: 200_000, seed: 'tampered' } }],
    });
    const { error } = await prove(ova);
    expect(error).toBeInstanceOf(ChecksumMismatchError);
    expect((error as Error).message).toMatch(/"tampered-disk2\.vmdk" \(per tampered\.mf\)/);
    const direct = await inspectOva(createReadStream(ova.path)).catch((e: unknown) => e);
    expect((error as Error).message).toBe((direct as Error).message);
  });

  it('an archive that is not an OVA is an OvaFormatError naming the entry', async () => {
    const ova = await buildOva(dir, { name: 'noovf', mutate: (e) => [e[1]!, e[0]!, ...e.slice(2)] }); // .mf first
    const { error } = await prove(ova);
    expect(error).toBeInstanceOf(OvaFormatError);
    expect((error as Error).message).toMatch(/"noovf\.mf".*must be the first entry/);
  });

  it('a download that fails for good ends the entries with an error', async () => {
    const ova = await buildOva(dir, { name: 'failing', diskSize: 1 << 20 });
    const bytes = await readFile(ova.path);
    const file = new GrowingFile(`${ova.path}.partial`, `${ova.path}.final`, bytes.length);
    const prover = new OvaProver(file, { archiveSize: bytes.length, expectedFiles: ova.files });
    const seen: string[] = [];
    const reading = (async () => {
      for await (const e of prover.entries()) seen.push(e.name);
    })().then(
      () => undefined,
      (e: unknown) => e,
    );
    try {
      await grow(file, bytes.subarray(0, 4096));
      await waitFor(() => seen.length >= 2, { what: 'the .ovf and .mf to be reported' });
      file.fail(new Error('store gone'));
      expect(String(await reading)).toMatch(/the download failed/);
    } finally {
      await prover.stop();
    }
  });
});

describe('OvaProver on an earlier download’s file, while the cache checks its SHA-256 again', () => {
  /** A cached (final) file of `bytes` whose reuse check has begun, with a prover on it. */
  async function checking(name: string, bytes: Buffer, files: readonly ManifestFile[]) {
    const file = new GrowingFile(join(dir, `${name}.partial`), join(dir, `${name}.final`), bytes.length);
    await writeFile(file.finalPath, bytes);
    const prover = new OvaProver(file, { archiveSize: bytes.length, expectedFiles: files });
    file.checkingReuse();
    return { file, prover };
  }

  it('proves the whole file before the check ends (nothing is proven yet)', async () => {
    const ova = await buildOva(dir, { name: 'kept', diskSize: 3 * 1024 * 1024, disks: 2 });
    const bytes = await readFile(ova.path);
    const { file, prover } = await checking('kept', bytes, ova.files);
    try {
      const summary = await prover.summary();
      expect(file.proven).toBe(false);
      expect(file.available).toBe(0); // a reader that sends still waits for the check
      expect(summary.files.map((f) => f.sha256)).toEqual(ova.files.map((f) => f.sha256));
    } finally {
      await prover.stop();
    }
  });

  it('a mismatch found meanwhile waits for the check: the verdict if it passes, a retryable CacheError if it fails', async () => {
    const ova = await buildOva(dir, {
      name: 'rotten',
      diskSize: 200_000,
      mutate: (e) => [...e.slice(0, -1), { name: e.at(-1)!.name, body: { size: 200_000, seed: 'rotten' } }],
    });
    const bytes = await readFile(ova.path);
    for (const check of ['passes', 'fails'] as const) {
      const { file, prover } = await checking(`rotten-${check}`, bytes, ova.files);
      try {
        await waitFor(() => prover.done, { what: 'the prover to read the whole file' });
        expect(() => prover.throwIfFailed()).not.toThrow();
        if (check === 'passes') {
          file.prove();
          const err = await prover.summary().catch((e: unknown) => e);
          expect(err).toBeInstanceOf(ChecksumMismatchError);
          expect((err as Error).message).toMatch(/"rotten-disk1\.vmdk"/);
        } else {
          file.reuseFailed();
          const err = await prover.summary().catch((e: unknown) => e);
          expect(err).toBeInstanceOf(CacheError);
          expect(isRetryable(err)).toBe(true);
          expect((err as Error).message).toMatch(/did not match its SHA-256.*downloaded again/);
        }
      } finally {
        await prover.stop();
      }
    }
  });
});
