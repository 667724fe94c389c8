import { createHash, type Hash } from 'node:crypto';
import { PassThrough, type Readable, Transform, type TransformCallback } from 'node:stream';
import { finished } from 'node:stream/promises';
import { extract as tarExtract } from 'tar-stream';
import { OvaChecker, type OvaEntryRole, type OvaReadOptions, type OvaSummary } from './ova-checker.js';
import { TAR_BLOCK } from './tar-header.js';

export type { OvaEntryRole, OvaReadOptions, OvaSummary } from './ova-checker.js';

export interface OvaEntry {
  name: string;
  size: number;
  role: OvaEntryRole;
  /**
   * Where the entry's bytes start in the archive (a plain ustar header before each entry), so a
   * verified archive can serve an entry as a byte range; undefined after extended (pax or GNU
   * long-name) headers, whose size the reader does not see.
   */
  offset?: number;
  /** The entry's bytes; hashed and checked while they stream. Consume it before asking for the next entry. */
  body: Readable;
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
    const checker = new OvaChecker(this.#options);
    const extract = tarExtract();
    this.#source.on('error', (err) => extract.destroy(err));
    this.#source.pipe(extract);
    /** Archive offset of the next header, while every header so far was one plain block. */
    let position: number | undefined = 0;

    try {
      for await (const entry of extract) {
        const header = entry.header;
        const name = header.name;
        const size = header.size ?? 0;
        const { role, small, sha1: wantSha1 } = checker.begin(name, header.type, size);
        const sha256 = createHash('sha256');
        const sha1 = wantSha1 ? createHash('sha1') : undefined;
        let bytes = 0;
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
          checker.descriptor(name, role, Buffer.concat(chunks).toString('utf8'));
        }
        const body = small ? bufferStream(Buffer.concat(chunks)) : tap;
        const plain: boolean =
          position !== undefined && !(header as { pax?: unknown }).pax && Buffer.byteLength(name) <= 100;
        const offset: number | undefined = plain ? (position ?? 0) + TAR_BLOCK : undefined;
        position = offset === undefined ? undefined : offset + Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;
        yield { name, size, role, body, ...(offset === undefined ? {} : { offset }) };
        if (!small) {
          // The consumer had its chance; drain whatever it left so the tar advances.
          if (!tap.readableEnded) tap.resume();
          await finished(tap);
        }
        checker.end(name, role, bytes, sha256.digest('hex'), sha1?.digest('hex'));
      }
    } catch (err) {
      this.#source.unpipe(extract);
      extract.destroy();
      this.#source.destroy();
      throw err;
    }

    this.#summary = checker.finish();
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
