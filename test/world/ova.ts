import { createCipheriv, createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type Header, pack as tarPack } from 'tar-stream';

/** Deterministic pseudo-random bytes (AES-CTR keystream: fast, incompressible, reproducible by seed). */
export function randomStream(size: number, seed = 'ferry'): Readable {
  const key = createHash('sha256').update(seed).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(1 << 20);
  let left = size;
  return new Readable({
    highWaterMark: 1 << 20,
    read() {
      if (left <= 0) {
        this.push(null);
        return;
      }
      const n = Math.min(left, zeros.length);
      left -= n;
      this.push(cipher.update(zeros.subarray(0, n)));
    },
  });
}

export async function sha256Of(stream: Readable): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of stream) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** One tar entry: bytes in memory, a generated body of `size`, or a non-file entry. */
export interface TarEntrySpec {
  name: string;
  body?: Buffer | { size: number; seed: string };
  type?: Header['type'];
  linkname?: string;
}

function bodySize(body: TarEntrySpec['body']): number {
  if (!body) return 0;
  return Buffer.isBuffer(body) ? body.length : body.size;
}

/** Writes a tar (OVA) with these entries in this order, streaming generated bodies. */
export async function writeTar(path: string, entries: readonly TarEntrySpec[]): Promise<void> {
  const pack = tarPack();
  const done = pipeline(pack, createWriteStream(path));
  for (const e of entries) {
    const header: Partial<Header> & { name: string } = {
      name: e.name,
      size: bodySize(e.body),
      type: e.type ?? 'file',
      mode: 0o644,
    };
    if (e.linkname) header.linkname = e.linkname;
    if (!e.body || Buffer.isBuffer(e.body)) {
      await new Promise<void>((resolve, reject) =>
        pack.entry(header, (e.body as Buffer | undefined) ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve())),
      );
    } else {
      const sink = pack.entry(header);
      await pipeline(randomStream(e.body.size, e.body.seed), sink);
    }
  }
  pack.finalize();
  await done;
}

export interface OvaFile {
  name: string;
  size: number;
  sha256: string;
}

export interface BuiltOva {
  path: string;
  size: number;
  sha256: string;
  /** Every entry of the archive, in order (ovf, mf, disks), as a manifest lists them. */
  files: OvaFile[];
  entries: TarEntrySpec[];
}

export interface OvaSpec {
  /** Base name of the .ovf/.mf (default `image`). */
  name?: string;
  /** Size of each disk file in bytes (default 1 MiB). */
  diskSize?: number;
  disks?: number;
  /** Seed for disk contents: same seed, same bytes. */
  seed?: string;
  mfAlgorithm?: 'SHA256' | 'SHA1';
  /** The .ovf text (default ovfDescriptor: references only, not deployable). */
  ovf?: (name: string, disks: { href: string; size: number }[]) => string;
  /** Change the entries before they are written (hostile variants). */
  mutate?: (entries: TarEntrySpec[]) => TarEntrySpec[];
}

export function ovfDescriptor(name: string, disks: { href: string; size: number }[]): string {
  const files = disks
    .map((d, i) => `    <File ovf:href="${d.href}" ovf:id="file${i + 1}" ovf:size="${d.size}"/>`)
    .join('\n');
  const diskSection = disks
    .map(
      (_d, i) =>
        `    <Disk ovf:capacity="${1 << 30}" ovf:diskId="vmdisk${i + 1}" ovf:fileRef="file${i + 1}" ovf:format="http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized"/>`,
    )
    .join('\n');
  return `<?xml version="1.0" encoding="UTF-8"?>
<Envelope xmlns="http://schemas.dmtf.org/ovf/envelope/1" xmlns:ovf="http://schemas.dmtf.org/ovf/envelope/1" xmlns:rasd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_ResourceAllocationSettingData" xmlns:vssd="http://schemas.dmtf.org/wbem/wscim/1/cim-schema/2/CIM_VirtualSystemSettingData">
  <References>
${files}
  </References>
  <DiskSection>
    <Info>Virtual disk information</Info>
${diskSection}
  </DiskSection>
  <VirtualSystem ovf:id="${name}">
    <Info>A virtual machine built by ferry's tests</Info>
    <Name>${name}</Name>
  </VirtualSystem>
</Envelope>
`;
}

/**
 * An OVF that vCenter (and vcsim) can deploy: one SCSI controller and one disk per file.
 * `diskParent` overrides the controller the disks hang off (a missing one is a broken OVF:
 * vcsim then silently leaves the disks out).
 */
export function deployableOvfDescriptor(
  name: string,
  disks: { href: string; size: number }[],
  opts: { diskParent?: string } = {},
): string {
  const base = ovfDescriptor(name, disks);
  const diskItems = disks
    .map(
      (_d, i) => `      <Item>
        <rasd:AddressOnParent>${i}</rasd:AddressOnParent>
        <rasd:ElementName>disk${i + 1}</rasd:ElementName>
        <rasd:HostResource>ovf:/disk/vmdisk${i + 1}</rasd:HostResource>
        <rasd:InstanceID>${10 + i}</rasd:InstanceID>
        <rasd:Parent>${opts.diskParent ?? '3'}</rasd:Parent>
        <rasd:ResourceType>17</rasd:ResourceType>
      </Item>`,
    )
    .join('\n');
  const hardware = `    <VirtualHardwareSection>
      <Info>Virtual hardware requirements</Info>
      <System>
        <vssd:ElementName>Virtual Hardware Family</vssd:ElementName>
        <vssd:InstanceID>0</vssd:InstanceID>
        <vssd:VirtualSystemType>vmx-13</vssd:VirtualSystemType>
      </System>
      <Item>
        <rasd:AllocationUnits>hertz * 10^6</rasd:AllocationUnits>
        <rasd:ElementName>1 virtual CPU</rasd:ElementName>
        <rasd:InstanceID>1</rasd:InstanceID>
        <rasd:ResourceType>3</rasd:ResourceType>
        <rasd:VirtualQuantity>1</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:AllocationUnits>byte * 2^20</rasd:AllocationUnits>
        <rasd:ElementName>256MB of memory</rasd:ElementName>
        <rasd:InstanceID>2</rasd:InstanceID>
        <rasd:ResourceType>4</rasd:ResourceType>
        <rasd:VirtualQuantity>256</rasd:VirtualQuantity>
      </Item>
      <Item>
        <rasd:ElementName>SCSI controller 0</rasd:ElementName>
        <rasd:InstanceID>3</rasd:InstanceID>
        <rasd:ResourceSubType>lsilogic</rasd:ResourceSubType>
        <rasd:ResourceType>6</rasd:ResourceType>
      </Item>
${diskItems}
    </VirtualHardwareSection>
`;
  return base.replace('  </VirtualSystem>', `${hardware}  </VirtualSystem>`);
}

async function digestOf(body: TarEntrySpec['body'], algorithm: 'sha256' | 'sha1'): Promise<string> {
  if (!body) return createHash(algorithm).digest('hex');
  if (Buffer.isBuffer(body)) return createHash(algorithm).update(body).digest('hex');
  const h = createHash(algorithm);
  for await (const chunk of randomStream(body.size, body.seed)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/**
 * Builds a small but valid OVA: the .ovf first (with References), then the .mf
 * (SHA256 or SHA1 lines for the .ovf and every disk), then the disks.
 */
export async function buildOva(dir: string, spec: OvaSpec = {}): Promise<BuiltOva> {
  const name = spec.name ?? 'image';
  const diskSize = spec.diskSize ?? 1 << 20;
  const disks = Array.from({ length: spec.disks ?? 1 }, (_, i) => ({
    href: `${name}-disk${i + 1}.vmdk`,
    size: diskSize,
    seed: `${spec.seed ?? name}-${i}`,
  }));
  const ovf = Buffer.from((spec.ovf ?? ovfDescriptor)(name, disks));
  const algorithm = spec.mfAlgorithm ?? 'SHA256';
  const diskEntries: TarEntrySpec[] = disks.map((d) => ({ name: d.href, body: { size: d.size, seed: d.seed } }));
  const mfLines = [`${algorithm}(${name}.ovf)= ${await digestOf(ovf, algorithm === 'SHA1' ? 'sha1' : 'sha256')}`];
  for (const e of diskEntries)
    mfLines.push(`${algorithm}(${e.name})= ${await digestOf(e.body, algorithm === 'SHA1' ? 'sha1' : 'sha256')}`);
  let entries: TarEntrySpec[] = [
    { name: `${name}.ovf`, body: ovf },
    { name: `${name}.mf`, body: Buffer.from(`${mfLines.join('\n')}\n`) },
    ...diskEntries,
  ];
  if (spec.mutate) entries = spec.mutate(entries);
  const path = join(dir, `${name}.ova`);
  await writeTar(path, entries);
  const files: OvaFile[] = [];
  for (const e of entries) {
    if ((e.type ?? 'file') !== 'file') continue;
    files.push({ name: e.name, size: bodySize(e.body), sha256: await digestOf(e.body, 'sha256') });
  }
  const { size } = await stat(path);
  return { path, size, sha256: await sha256Of(createReadStream(path)), files, entries };
}

/**
 * Rewrites the size field of the tar header named `entryName` (a tar bomb: the
 * header declares far more than the archive holds). Walks the 512-byte headers.
 */
export async function patchDeclaredSize(path: string, entryName: string, declared: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    const { size } = await fh.stat();
    let offset = 0;
    const header = Buffer.alloc(512);
    while (offset + 512 <= size) {
      await fh.read(header, 0, 512, offset);
      const name = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
      if (!name) break;
      const entrySize = Number.parseInt(
        header.subarray(124, 136).toString('ascii').replace(/\0.*$/s, '').trim() || '0',
        8,
      );
      if (name === entryName) {
        header.write(`${declared.toString(8).padStart(11, '0')}\0`, 124, 12, 'ascii');
        header.fill(0x20, 148, 156);
        let sum = 0;
        for (const b of header) sum += b;
        header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'ascii');
        await fh.write(header, 0, 512, offset);
        return;
      }
      offset += 512 + Math.ceil(entrySize / 512) * 512;
    }
    throw new Error(`no tar entry named ${entryName} in ${path}`);
  } finally {
    await fh.close();
  }
}

/** Where each file entry's bytes sit in a tar (OVA): what a PULL listener serves as a byte range. */
export async function tarEntryOffsets(path: string): Promise<Array<{ name: string; offset: number; size: number }>> {
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    const out: Array<{ name: string; offset: number; size: number }> = [];
    const header = Buffer.alloc(512);
    let offset = 0;
    while (offset + 512 <= size) {
      await fh.read(header, 0, 512, offset);
      const name = header.subarray(0, 100).toString('utf8').replace(/\0.*$/s, '');
      if (!name) break;
      const entrySize = Number.parseInt(
        header.subarray(124, 136).toString('ascii').replace(/\0.*$/s, '').trim() || '0',
        8,
      );
      if (header[156] === 0x30 || header[156] === 0) out.push({ name, offset: offset + 512, size: entrySize });
      offset += 512 + Math.ceil(entrySize / 512) * 512;
    }
    return out;
  } finally {
    await fh.close();
  }
}
