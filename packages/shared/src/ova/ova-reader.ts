import { createHash, type Hash } from 'node:crypto';
import { PassThrough, type Readable, Transform, type TransformCallback } from 'node:stream';
import { finished } from 'node:stream/promises';
import { extract as tarExtract } from 'tar-stream';
import { ChecksumMismatchError, OvaFormatError } from '../errors.js';
import type { ManifestFile } from '../manifest.js';
import { MAX_OVF_BYTES, type MfLine, type OvfReference, parseMf, parseOvfReferences } from './ovf-references.js';

export type OvaEntryRole = 'ovf' | 'mf' | 'cert' | 'file';

export interface OvaEntry {
  name: string;
  size: number;
  role: OvaEntryRole;
  /** The entry's bytes; hashed and checked while they stream. Consume it before asking for the next entry. */
  body: Readable;
}

export interface OvaReadOptions {
  /** Size of the whole archive: entries that declare more than this are a tar bomb. */
  archiveSize?: number;
  /** Files as the signed manifest lists them: every entry must be one of them, same size and sha256. */
  expectedFiles?: readonly ManifestFile[];
}

export interface OvaSummary {
  ovf: string;
  mf: string;
  references: OvfReference[];
  /** Every entry in archive order, with its size and sha256. */
  files: ManifestFile[];
}

const TAR_BLOCK = 512;

/** Refuses names that could escape a directory or hide what they are. */
function checkEntryName(name: string): void {
  if (!name) throw new OvaFormatError(name, 'has an empty name');
  if (name.includes('\0')) throw new OvaFormatError(name, 'has a NUL byte in its name');
  if (name.startsWith('/')) throw new OvaFormatError(name, 'has an absolute path');
  if (name.split(/[\\/]/).includes('..')) throw new OvaFormatError(name, 'has a ".." path segment');
  if (name.includes('/') || name.includes('\\'))
    throw new OvaFormatError(name, 'is in a subdirectory; OVA entries are flat');
}

function roleOf(name: string): OvaEntryRole {
  const lower = name.toLowerCase();
  if (lower.endsWith('.ovf')) return 'ovf';
  if (lower.endsWith('.mf')) return 'mf';
  if (lower.endsWith('.cert')) return 'cert';
  return 'file';
}

/**
 * Streams an OVA (a tar) entry by entry without extracting it to disk, and proves
 * each entry against the OVF's References, the OVA's `.mf` and (when given) the
 * signed manifest's file list. Anything unsafe or inconsistent ends the iteration
 * with an `OvaFormatError` or `ChecksumMismatchError` that names the entry.
 *
 *   const reader = new OvaReader(stream, { archiveSize });
 *   for await (const entry of reader) await upload(entry.body);
 *   reader.summary; // available once the loop has ended
 */
export class OvaReader implements AsyncIterable<OvaEntry> {
  #summary: OvaSummary | undefined;
  readonly #source: Readable;
  readonly #options: OvaReadOptions;

  constructor(source: Readable, options: OvaReadOptions = {}) {
    this.#source = source;
    this.#options = options;
  }

  get summary(): OvaSummary {
    if (!this.#summary) throw new Error('OvaReader.summary read before the archive was fully read');
    return this.#summary;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<OvaEntry> {
    const { archiveSize, expectedFiles } = this.#options;
    const expected = expectedFiles && new Map(expectedFiles.map((f) => [f.name, f]));
    const extract = tarExtract();
    this.#source.on('error', (err) => extract.destroy(err));
    this.#source.pipe(extract);

    const seen = new Map<string, ManifestFile>();
    const files: ManifestFile[] = [];
    let ovfName: string | undefined;
    let mfName: string | undefined;
    let references: OvfReference[] = [];
    let referenced = new Map<string, OvfReference>();
    let mf: Map<string, MfLine> | undefined;
    /** sha1 digests of entries read before the .mf, in case it lists SHA1 lines. */
    const sha1Before = new Map<string, string>();
    let declared = 0;

    const checkAgainstMf = (name: string, sha256: string, sha1: string | undefined): void => {
      if (!mf) return;
      const line = mf.get(name);
      if (!line) throw new OvaFormatError(name, `is not listed in ${mfName}`);
      const actual = line.algorithm === 'sha256' ? sha256 : sha1;
      if (actual !== undefined && actual !== line.digest) {
        throw new ChecksumMismatchError(
          `OVA entry ${JSON.stringify(name)} (per ${mfName})`,
          line.digest,
          actual,
          line.algorithm,
        );
      }
    };

    try {
      for await (const entry of extract) {
        const header = entry.header;
        const name = header.name;
        checkEntryName(name);
        if (header.type !== 'file') {
          throw new OvaFormatError(name, `is a ${header.type}; only regular files are allowed in an OVA`);
        }
        if (seen.has(name)) throw new OvaFormatError(name, 'appears twice in the archive');
        const size = header.size ?? 0;
        declared += size + TAR_BLOCK;
        if (archiveSize !== undefined && declared > archiveSize) {
          throw new OvaFormatError(
            name,
            `declares ${size} bytes, more than the archive's ${archiveSize} bytes hold (corrupt or a tar bomb)`,
          );
        }
        const role = roleOf(name);
        if (ovfName === undefined) {
          if (role !== 'ovf')
            throw new OvaFormatError(name, 'comes first, but the OVF descriptor (.ovf) must be the first entry');
          if (size > MAX_OVF_BYTES)
            throw new OvaFormatError(name, `is ${size} bytes; OVF descriptors over ${MAX_OVF_BYTES} are refused`);
        } else {
          const base = ovfName.slice(0, -4);
          if (role === 'ovf') throw new OvaFormatError(name, `is a second OVF descriptor (the first was ${ovfName})`);
          if ((role === 'mf' || role === 'cert') && name.slice(0, name.lastIndexOf('.')) !== base) {
            throw new OvaFormatError(
              name,
              `does not belong to ${ovfName} (expected ${base}${name.slice(name.lastIndexOf('.'))})`,
            );
          }
          if (role === 'file' && !referenced.has(name)) {
            throw new OvaFormatError(name, `is not referenced by ${ovfName}`);
          }
          const ref = referenced.get(name);
          if (ref?.size !== undefined && ref.size !== size) {
            throw new OvaFormatError(name, `is ${size} bytes but ${ovfName} says ${ref.size}`);
          }
          if (role === 'mf' && size > MAX_OVF_BYTES) throw new OvaFormatError(name, 'is too large for a manifest');
        }
        const want = expected?.get(name);
        if (expected && !want) throw new OvaFormatError(name, 'is not in the signed manifest');
        if (want && want.size !== size) {
          throw new ChecksumMismatchError(`OVA entry ${JSON.stringify(name)}`, String(want.size), String(size), 'size');
        }

        const sha256 = createHash('sha256');
        const sha1 = mf && mf.get(name)?.algorithm !== 'sha1' ? undefined : createHash('sha1');
        let bytes = 0;
        const small = role === 'ovf' || role === 'mf';
        const chunks: Buffer[] = [];
        const tap = new HashTap(sha256, sha1, (chunk) => {
          bytes += chunk.length;
          if (small) chunks.push(chunk);
        });
        entry.pipe(tap);

        if (small) {
          // Descriptors are read here first: their content decides what follows.
          tap.resume();
          await finished(tap);
          const text = Buffer.concat(chunks).toString('utf8');
          if (role === 'ovf') {
            ovfName = name;
            references = parseOvfReferences(name, text);
            referenced = new Map(references.map((r) => [r.href, r]));
            for (const r of references) checkEntryName(r.href);
          } else {
            mfName = name;
            mf = parseMf(name, text);
          }
        }
        const body = small ? bufferStream(Buffer.concat(chunks)) : tap;
        yield { name, size, role, body };
        if (!small) {
          // The consumer had its chance; drain whatever it left so the tar advances.
          if (!tap.readableEnded) tap.resume();
          await finished(tap);
        }
        if (bytes !== size) throw new OvaFormatError(name, `is truncated: ${bytes} of ${size} bytes`);
        const digest = sha256.digest('hex');
        const sha1Digest = sha1?.digest('hex');
        if (want && want.sha256 !== digest) {
          throw new ChecksumMismatchError(
            `OVA entry ${JSON.stringify(name)} (per signed manifest)`,
            want.sha256,
            digest,
          );
        }
        if (role === 'mf') {
          // Entries read before the .mf (at least the .ovf) are checked now.
          for (const f of files) checkAgainstMf(f.name, f.sha256, sha1Before.get(f.name));
        } else if (role !== 'cert') {
          if (!mf && sha1Digest) sha1Before.set(name, sha1Digest);
          checkAgainstMf(name, digest, sha1Digest);
        }
        const file = { name, size, sha256: digest };
        seen.set(name, file);
        files.push(file);
      }
    } catch (err) {
      this.#source.unpipe(extract);
      extract.destroy();
      this.#source.destroy();
      throw err;
    }

    if (ovfName === undefined) throw new OvaFormatError(undefined, 'the archive has no entries (is it an OVA?)');
    if (!mf || !mfName)
      throw new OvaFormatError(undefined, `no manifest (.mf) next to ${ovfName}: build the OVA with one`);
    for (const ref of references) {
      if (!seen.has(ref.href))
        throw new OvaFormatError(ref.href, `is referenced by ${ovfName} but missing from the archive`);
    }
    for (const name of mf.keys()) {
      if (!seen.has(name)) throw new OvaFormatError(name, `is listed in ${mfName} but missing from the archive`);
    }
    for (const f of expectedFiles ?? []) {
      if (!seen.has(f.name)) throw new OvaFormatError(f.name, 'is in the signed manifest but missing from the archive');
    }
    this.#summary = { ovf: ovfName, mf: mfName, references, files };
  }
}

/** Reads a whole OVA, checking everything, and returns what it holds. */
export async function inspectOva(source: Readable, options: OvaReadOptions = {}): Promise<OvaSummary> {
  const reader = new OvaReader(source, options);
  for await (const entry of reader) entry.body.resume();
  return reader.summary;
}

class HashTap extends Transform {
  constructor(
    private readonly sha256: Hash,
    private readonly sha1: Hash | undefined,
    private readonly onChunk: (chunk: Buffer) => void,
  ) {
    super({ highWaterMark: 1 << 20 });
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.sha256.update(chunk);
    this.sha1?.update(chunk);
    this.onChunk(chunk);
    cb(null, chunk);
  }
}

function bufferStream(buf: Buffer): Readable {
  const t = new PassThrough();
  t.end(buf);
  return t;
}
