import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChecksumMismatchError, inspectOva, OvaFormatError, OvaReader } from '@ferry/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildOva,
  type OvaSpec,
  ovfDescriptor,
  patchDeclaredSize,
  type TarEntrySpec,
} from '../../../test/world/ova.js';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
let dir: string;
let n = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-ova-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function build(spec: OvaSpec = {}) {
  const sub = join(dir, String(n++));
  await import('node:fs/promises').then((fs) => fs.mkdir(sub));
  return buildOva(sub, { diskSize: 300_000, ...spec });
}

async function rejection(path: string, size?: number): Promise<Error> {
  const err = await inspectOva(createReadStream(path), size === undefined ? {} : { archiveSize: size }).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  if (!err) throw new Error('expected the OVA to be rejected');
  return err;
}

describe('OvaReader', () => {
  it('reads a valid OVA and reports every file with size and sha256', async () => {
    const ova = await build({ name: 'ubuntu', disks: 2 });
    const summary = await inspectOva(createReadStream(ova.path), { archiveSize: ova.size, expectedFiles: ova.files });
    expect(summary.ovf).toBe('ubuntu.ovf');
    expect(summary.mf).toBe('ubuntu.mf');
    expect(summary.files).toEqual(ova.files);
    expect(summary.references.map((r) => r.href)).toEqual(['ubuntu-disk1.vmdk', 'ubuntu-disk2.vmdk']);
  });

  it('accepts SHA1 manifests', async () => {
    const ova = await build({ mfAlgorithm: 'SHA1' });
    await expect(inspectOva(createReadStream(ova.path))).resolves.toBeTruthy();
  });

  it('streams entry bodies to the consumer', async () => {
    const ova = await build({ disks: 1 });
    const reader = new OvaReader(createReadStream(ova.path));
    const seen: Array<[string, number]> = [];
    for await (const entry of reader) {
      let bytes = 0;
      for await (const chunk of entry.body) bytes += (chunk as Buffer).length;
      seen.push([entry.name, bytes]);
    }
    expect(seen).toEqual(ova.files.map((f) => [f.name, f.size]));
  });

  const hostile: Array<[string, (e: TarEntrySpec[]) => TarEntrySpec[], RegExp]> = [
    ['a ../ entry', (e) => [...e, { name: '../evil', body: Buffer.from('x') }], /"\.\.\/evil".*"\.\." path segment/],
    [
      'an absolute path',
      (e) => [...e, { name: '/etc/cron.d/evil', body: Buffer.from('x') }],
      /"\/etc\/cron.d\/evil".*absolute/,
    ],
    [
      'a symlink',
      (e) => [...e, { name: 'link.vmdk', type: 'symlink', linkname: '/etc/passwd' }],
      /"link.vmdk".*symlink/,
    ],
    ['a hard link', (e) => [...e, { name: 'hard.vmdk', type: 'link', linkname: 'image.ovf' }], /"hard.vmdk".*link/],
    ['a device file', (e) => [...e, { name: 'dev.vmdk', type: 'character-device' }], /"dev.vmdk".*character-device/],
    ['a duplicate name', (e) => [...e, { ...e[2]! }], /"image-disk1.vmdk".*twice/],
    [
      'an unreferenced file',
      (e) => [...e, { name: 'extra.iso', body: Buffer.from('x') }],
      /"extra.iso".*not referenced/,
    ],
    ['a missing referenced file', (e) => e.slice(0, 2), /"image-disk1.vmdk".*missing from the archive/],
    ['no .mf', (e) => [e[0]!, e[2]!], /no manifest \(\.mf\)/],
    ['the .ovf not first', (e) => [e[1]!, e[0]!, e[2]!], /"image.mf".*must be the first entry/],
    [
      'an OVF size that disagrees',
      (e) => {
        // A consistent .mf, so that only the OVF's declared size is wrong.
        const ovf = Buffer.from(ovfDescriptor('image', [{ href: 'image-disk1.vmdk', size: 5 }]));
        const mf = (e[1]!.body as Buffer)
          .toString()
          .replace(/^SHA256\(image\.ovf\)= \w+/m, `SHA256(image.ovf)= ${sha256(ovf)}`);
        return [{ name: 'image.ovf', body: ovf }, { name: 'image.mf', body: Buffer.from(mf) }, e[2]!];
      },
      /"image-disk1.vmdk".*but image.ovf says 5/,
    ],
  ];
  it.each(hostile)('rejects %s and names the entry', async (_label, mutate, message) => {
    const ova = await build({ mutate });
    const err = await rejection(ova.path, ova.size);
    expect(err).toBeInstanceOf(OvaFormatError);
    expect(err.message).toMatch(message);
  });

  it('rejects a .mf that disagrees with a file, naming the file', async () => {
    const ova = await build({
      mutate: (e) => [e[0]!, e[1]!, { name: e[2]!.name, body: { size: 300_000, seed: 'other bytes' } }],
    });
    const err = await rejection(ova.path);
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    expect(err.message).toMatch(/"image-disk1.vmdk" \(per image.mf\)/);
  });

  it('rejects a tar bomb (declared size beyond the archive) before reading it', async () => {
    const ova = await build();
    await patchDeclaredSize(ova.path, 'image-disk1.vmdk', 7 * 2 ** 30);
    const err = await rejection(ova.path, ova.size);
    expect(err).toBeInstanceOf(OvaFormatError);
    expect(err.message).toMatch(/"image-disk1.vmdk": declares 7516192768 bytes, more than the archive's/);
  });

  it('rejects an entry whose bytes differ from the signed manifest', async () => {
    const ova = await build();
    const expectedFiles = ova.files.map((f) => (f.name.endsWith('.vmdk') ? { ...f, sha256: '0'.repeat(64) } : f));
    const err = await inspectOva(createReadStream(ova.path), { expectedFiles }).catch((e: unknown) => e as Error);
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    expect((err as Error).message).toMatch(/image-disk1.vmdk.*signed manifest/);
  });

  it('rejects a file that is not a tar at all', async () => {
    const path = join(dir, 'not.ova');
    await import('node:fs/promises').then((fs) => fs.writeFile(path, 'hello, I am not an OVA\n'.repeat(100)));
    const err = await rejection(path);
    expect(err.message).toBeTruthy();
  });
});
