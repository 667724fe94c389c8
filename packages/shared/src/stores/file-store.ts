import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ChecksumMismatchError, InvalidNameError, NotFoundError, StoreError } from '../errors.js';
import type { ByteRange, ObjectInfo, ObjectStore, PutOptions } from '../object-store.js';
import { isRetryableCode, lowLevelKind } from '../retry-policy.js';
import { normalizeStorePath, normalizeStorePrefix } from './store-path.js';

export interface FileStoreOptions {
  /** Directory that holds the objects; paths are resolved under it and may never leave it. */
  root: string;
}

/** Partial uploads are named `.<name>.<random>.ferry-partial` next to their final name. */
const PARTIAL_SUFFIX = '.ferry-partial';

function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** A local (or mounted) directory as a store. `head` has no sha256: nothing records it. */
export class FileStore implements ObjectStore {
  readonly description: string;
  readonly root: string;

  constructor(options: FileStoreOptions) {
    this.root = resolve(options.root);
    this.description = `file://${this.root}`;
  }

  /** Absolute file for a store path; rejects anything that would resolve outside the root. */
  private fileOf(path: string): { rel: string; file: string } {
    const rel = normalizeStorePath(path);
    const file = resolve(this.root, ...rel.split('/'));
    if (!file.startsWith(this.root + sep))
      throw new InvalidNameError('store path', path, 'resolves outside the store root');
    return { rel, file };
  }

  private fail(operation: string, path: string, err: unknown): Error {
    if (err instanceof NotFoundError || err instanceof StoreError || err instanceof ChecksumMismatchError) return err;
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'ENOTDIR') return new NotFoundError(this.description, path, { cause: err });
    const retryable = typeof code === 'string' && lowLevelKind(code) === 'io' && isRetryableCode(code);
    const message =
      code === 'EACCES' || code === 'EPERM'
        ? `permission denied (${code}): check that ferry's user can read and write ${this.root}`
        : code === 'ENOSPC'
          ? `no space left on the device holding ${this.root}`
          : err instanceof Error
            ? err.message
            : String(err);
    return new StoreError(this.description, operation, path, message, { cause: err, retryable });
  }

  async head(path: string): Promise<ObjectInfo | undefined> {
    const { rel, file } = this.fileOf(path);
    try {
      const st = await stat(file);
      if (!st.isFile()) return undefined;
      return { path: rel, size: st.size, lastModified: st.mtime };
    } catch (err) {
      const mapped = this.fail('head', rel, err);
      if (mapped instanceof NotFoundError) return undefined;
      throw mapped;
    }
  }

  async get(path: string, range?: ByteRange): Promise<Readable> {
    const { rel, file } = this.fileOf(path);
    let size: number;
    try {
      const st = await stat(file);
      if (!st.isFile()) throw new NotFoundError(this.description, rel);
      size = st.size;
    } catch (err) {
      throw this.fail('get', rel, err);
    }
    if (
      range &&
      (range.start < 0 || (range.start >= size && size > 0) || (range.end !== undefined && range.end < range.start))
    ) {
      throw new StoreError(
        this.description,
        'get',
        rel,
        `requested range ${range.start}-${range.end ?? ''} is outside the ${size}-byte file`,
        {
          status: 416,
        },
      );
    }
    const stream = createReadStream(file, range ? { start: range.start, end: range.end } : {});
    // Errors while reading (file removed, EIO) come out as store errors.
    const out = new PassThrough({ highWaterMark: 1024 * 1024 });
    stream.on('error', (err) => out.destroy(this.fail('get', rel, err)));
    out.once('close', () => stream.destroy());
    return stream.pipe(out);
  }

  async put(path: string, body: Readable, options: PutOptions = {}): Promise<void> {
    const { rel, file } = this.fileOf(path);
    const dir = dirname(file);
    const tmp = join(dir, `.${file.slice(dir.length + 1)}.${randomBytes(6).toString('hex')}${PARTIAL_SUFFIX}`);
    const hash = createHash('sha256');
    let size = 0;
    try {
      await mkdir(dir, { recursive: true });
      const counter = new PassThrough();
      counter.on('data', (chunk: Buffer) => {
        size += chunk.length;
        hash.update(chunk);
      });
      await pipeline(body, counter, createWriteStream(tmp, { flags: 'wx' }));
      if (options.size !== undefined && size !== options.size) {
        throw new ChecksumMismatchError(rel, String(options.size), String(size), 'size');
      }
      const sha256 = hash.digest('hex');
      if (options.sha256 && options.sha256.toLowerCase() !== sha256) {
        throw new ChecksumMismatchError(rel, options.sha256, sha256);
      }
      // Same directory, same file system: the final name appears complete or not at all.
      await rename(tmp, file);
    } catch (err) {
      await rm(tmp, { force: true }).catch(() => undefined);
      throw this.fail('put', rel, err);
    }
  }

  async probe(): Promise<void> {
    const st = await stat(this.root).catch((err: unknown) => {
      if (errnoCode(err) === 'ENOENT') {
        throw new StoreError(
          this.description,
          'probe',
          '/',
          `${this.root} does not exist: create it or fix store.root`,
          {
            retryable: false,
          },
        );
      }
      throw this.fail('probe', '/', err);
    });
    if (!st.isDirectory()) {
      throw new StoreError(this.description, 'probe', '/', `${this.root} is not a directory: fix store.root`, {
        retryable: false,
      });
    }
    await readdir(this.root).catch((err: unknown) => {
      throw this.fail('probe', '/', err);
    });
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const pre = normalizeStorePrefix(prefix);
    const folder = pre.includes('/') ? pre.slice(0, pre.lastIndexOf('/')) : '';
    const start = folder ? this.fileOf(folder).file : this.root;
    yield* this.walk(start, folder, pre);
  }

  private async *walk(dir: string, relDir: string, prefix: string): AsyncIterable<ObjectInfo> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      const code = errnoCode(err);
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw this.fail('list', prefix || '/', err);
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const rel = relDir ? `${relDir}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        // Descend only where the prefix can still match.
        if (rel.startsWith(prefix) || prefix.startsWith(`${rel}/`))
          yield* this.walk(join(dir, entry.name), rel, prefix);
        continue;
      }
      if (!entry.isFile() || entry.name.endsWith(PARTIAL_SUFFIX) || !rel.startsWith(prefix)) continue;
      try {
        const st = await stat(join(dir, entry.name));
        yield { path: rel, size: st.size, lastModified: st.mtime };
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw this.fail('list', prefix || '/', err);
      }
    }
  }

  async delete(path: string): Promise<void> {
    const { rel, file } = this.fileOf(path);
    try {
      // force: a missing file is fine, deleting is idempotent.
      await rm(file, { force: true });
    } catch (err) {
      throw this.fail('delete', rel, err);
    }
  }
}
