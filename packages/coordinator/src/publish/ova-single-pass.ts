/**
 * Reading an OVA exactly once. `ferry publish FILE` reads the file one time and, from that one
 * read, (1) uploads it to the store, (2) hashes it with SHA-256 and (3) proves it is an OVA whose
 * entries match its .ovf and .mf (`inspectOva` on a second branch of the same bytes). A 50 GiB
 * image is not read twice, and never spooled to disk.
 *
 * No half-checked object is left in the store, and no object is overwritten by a refused publish:
 * a store `put` completes only when its body stream ends (S3: the last part and
 * CompleteMultipartUpload are only sent then; the file store renames its temp file then;
 * Artifactory's PUT ends then). So the upload branch is held open — its last bytes in flight, not
 * committed — until the whole file was read, inspected and hashed, and `decide` (which checks the
 * catalog) said "commit". Any failure or a "discard" destroys the upload body with an error: S3
 * aborts the multipart upload, the file store deletes its temp file, Artifactory gets a broken
 * request and deploys nothing. This is why there is no temporary key: S3 has no rename. A failure
 * after the commit (signing, sidecar, catalog, event) is undone by the caller (publish-guard.ts),
 * and `signal` (Ctrl-C) fails the pass like any other error, so the upload is aborted.
 */
import { createHash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { PassThrough, type Readable, Transform, type TransformCallback, type Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { FerryError, inspectOva, type ObjectStore, OvaFormatError, type OvaSummary } from '@ferry/shared';
import { InputFileError } from '../errors.js';

/** What one pass learnt about the bytes. */
export interface PassResult {
  /** Bytes read from the source: equal to the file size, proof of a single pass. */
  bytesRead: number;
  sha256: string;
  summary: OvaSummary;
}

export type CommitDecision = 'commit' | 'discard';

export interface UploadPassOptions {
  store: ObjectStore;
  /** Store path to upload to. */
  path: string;
  /** Size of the source; the pass fails if it reads a different number of bytes. */
  size: number;
  /** Name of the source in messages (the local file). */
  sourceName: string;
  onProgress?: (bytesRead: number) => void;
  /** Called once everything was read, hashed and inspected, before the upload completes. */
  decide: (result: PassResult) => Promise<CommitDecision>;
  /** Aborting it fails the pass with `interrupted()` and aborts the upload. */
  signal?: AbortSignal;
  interrupted?: () => Error;
}

export interface UploadPassOutcome extends PassResult {
  /** The object was written (decide said commit and the store accepted it). */
  committed: boolean;
}

/** The upload body was destroyed on purpose (failure elsewhere or a discard). */
class UploadCancelled extends Error {
  constructor() {
    super('upload cancelled before completion');
    this.name = 'UploadCancelled';
  }
}

/** Errors from the tar parser are not FerryErrors: they mean "this is not an OVA". */
export function asOvaError(err: unknown): Error {
  if (err instanceof FerryError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new OvaFormatError(undefined, `not a valid OVA (tar) archive: ${message}`, { cause: err });
}

/**
 * One read of `source`: uploaded to `options.path`, hashed, and inspected as an OVA, with
 * backpressure from both branches (the slower of store and parser sets the pace).
 */
export async function uploadAndInspect(source: Readable, options: UploadPassOptions): Promise<UploadPassOutcome> {
  const hash = createHash('sha256');
  let bytesRead = 0;
  const toStore = new PassThrough({ highWaterMark: 4 << 20 });
  const toInspect = new PassThrough({ highWaterMark: 4 << 20 });
  // Consumers see errors through their promises; these keep a destroyed branch from crashing the process.
  toStore.on('error', () => undefined);
  toInspect.on('error', () => undefined);

  /** Wakes waits for 'drain' when something fails or the inspector stops reading. */
  const wake = new EventEmitter();
  let failure: unknown;
  let inspectDone = false;
  let cancelling = false;
  const fail = (err: unknown) => {
    if (failure === undefined) failure = err;
    wake.emit('wake');
  };

  // An abort after the pass only sets a failure nobody reads (the CLI's signal lives for one publish).
  const onAbort = () => fail(options.interrupted?.() ?? new Error('interrupted'));
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();

  const upload = options.store.put(options.path, toStore, { size: options.size });
  upload.catch((err: unknown) => {
    if (!cancelling) fail(err);
  });
  const inspect = inspectOva(toInspect, { archiveSize: options.size }).then(
    (summary) => {
      inspectDone = true;
      wake.emit('wake');
      return summary;
    },
    (err: unknown) => {
      inspectDone = true;
      const mapped = asOvaError(err);
      if (!cancelling) fail(mapped);
      throw mapped;
    },
  );
  inspect.catch(() => undefined);

  /** Resolves once every blocked branch drained (or closed), the inspector stopped reading, or something failed. */
  const waitWritable = (streams: Writable[]): Promise<void> =>
    new Promise((resolve) => {
      const pending = new Set(streams);
      const cleanups: Array<() => void> = [];
      const check = () => {
        if (inspectDone) pending.delete(toInspect);
        if (failure !== undefined || pending.size === 0) {
          for (const c of cleanups) c();
          resolve();
        }
      };
      for (const s of streams) {
        const one = () => {
          pending.delete(s);
          check();
        };
        s.on('drain', one);
        s.on('close', one);
        cleanups.push(() => {
          s.off('drain', one);
          s.off('close', one);
        });
      }
      wake.on('wake', check);
      cleanups.push(() => wake.off('wake', check));
      check();
    });

  try {
    for await (const chunk of source as AsyncIterable<Buffer>) {
      bytesRead += chunk.length;
      hash.update(chunk);
      options.onProgress?.(bytesRead);
      const blocked: Writable[] = [];
      if (!toStore.write(chunk)) blocked.push(toStore);
      if (!inspectDone && !toInspect.write(chunk)) blocked.push(toInspect);
      if (blocked.length > 0) await waitWritable(blocked);
      if (failure !== undefined) break;
    }
  } catch (err) {
    fail(
      err instanceof FerryError
        ? err
        : new InputFileError(options.sourceName, `cannot read ${options.sourceName}: ${(err as Error).message}`, {
            cause: err,
          }),
    );
  }
  if (failure === undefined && bytesRead !== options.size) {
    fail(
      new InputFileError(
        options.sourceName,
        `${options.sourceName} changed while it was read (${bytesRead} bytes read, ${options.size} expected): publish it again once it is complete`,
      ),
    );
  }

  let summary: OvaSummary | undefined;
  if (failure === undefined) {
    toInspect.end();
    try {
      summary = await inspect;
    } catch (err) {
      fail(err);
    }
  }

  let decision: CommitDecision = 'discard';
  const sha256 = hash.digest('hex');
  if (failure === undefined && summary) {
    try {
      decision = await options.decide({ bytesRead, sha256, summary });
    } catch (err) {
      fail(err);
    }
  }

  if (failure === undefined && summary && decision === 'commit') {
    toStore.end();
    // A failure of the upload rejects here. Anything else that failed meanwhile (an interrupt)
    // is the caller's to see: the object is committed now, and the caller undoes it.
    await upload;
    return { bytesRead, sha256, summary, committed: true };
  }

  // Failure or discard: the body is destroyed before it ended, so the store commits nothing.
  cancelling = true;
  toStore.destroy(new UploadCancelled());
  // With an error: a plain destroy() ends no pending read, and the inspector would wait forever.
  toInspect.destroy(new UploadCancelled());
  await upload.catch(() => undefined);
  await inspect.catch(() => undefined);
  if (failure !== undefined) throw failure;
  if (!summary) throw new Error('internal: OVA summary missing after a successful pass');
  return { bytesRead, sha256, summary, committed: false };
}

/** Counts and hashes the bytes that pass through. */
class HashCounter extends Transform {
  readonly hash = createHash('sha256');
  bytes = 0;
  constructor() {
    super({ highWaterMark: 1 << 20 });
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

/**
 * One read of an object already in a store (`ferry publish --from-store`): hashed and inspected
 * as an OVA on the way. `size` is the store's size of the object (tar-bomb bound for the parser).
 */
export async function hashAndInspect(source: Readable, size: number | undefined): Promise<PassResult> {
  const tap = new HashCounter();
  source.on('error', (err) => tap.destroy(err));
  source.pipe(tap);
  let summary: OvaSummary;
  try {
    summary = await inspectOva(tap, size === undefined ? {} : { archiveSize: size });
    // Anything after the tar's end-of-archive blocks still counts for size and hash.
    if (!tap.readableEnded) tap.resume();
    await finished(tap);
  } catch (err) {
    source.destroy();
    throw asOvaError(err);
  }
  return { bytesRead: tap.bytes, sha256: tap.hash.digest('hex'), summary };
}
