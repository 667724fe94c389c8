/**
 * Unit tests of ImageImporter's decisions with in-memory fakes (no servers): which item it
 * imports into, when it skips, and what it leaves behind when an import fails. The same paths
 * against real s3rver and vcsim are in data-path.test.ts and test/faults/vcenter-faults.test.ts.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChecksumMismatchError, isRetryable, type Logger, type Manifest, type ObjectStore } from '@ferry/shared';
import {
  type ArtifactRef,
  type CachedImage,
  type ContentLibrary,
  type FetchOptions,
  formatMarker,
  GrowingFile,
  type GrowingFileReader,
  type ImageCache,
  ImageImporter,
  ItemConflictError,
  type LibraryFileInfo,
  type LibraryItemInfo,
  type LibraryUpdateSession,
  OvaProofs,
  parseMarker,
  TransferQueues,
  UpdateSessionError,
  type UploadBody,
  VsphereError,
} from '@ferry/site-agent/internal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/support/wait.js';
import { buildOva } from '../../../test/world/ova.js';

const LIBRARY_ID = 'lib-1';
const ITEM_NAME = 'ubuntu-1';
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

type Step = 'upload' | 'validate' | 'complete';

/** One update session in memory: uploads are read to the end and kept as name → sha256. */
class FakeSession implements LibraryUpdateSession {
  state: 'ACTIVE' | 'DONE' | 'FAILED' | 'CANCELED' = 'ACTIVE';
  failMessage: string | undefined;
  readonly uploaded = new Map<string, { size: number; sha256: string }>();
  readonly #announced = new Map<string, string>();

  constructor(
    readonly id: string,
    readonly itemId: string,
    private readonly library: FakeLibrary,
  ) {}

  async addFile(file: { name: string; size: number }): Promise<string> {
    const url = `mem://${this.id}/${file.name}`;
    this.#announced.set(url, file.name);
    return url;
  }

  async upload(url: string, body: UploadBody, size: number, onProgress?: (bytes: number) => void): Promise<void> {
    const name = this.#announced.get(url);
    if (name === undefined) throw new Error(`upload to ${url}, which addFile never returned`);
    this.library.throwIfFailing('upload');
    const chunks: Buffer[] = [];
    // Copies: a pump reuses its buffers once write() resolved.
    const write = async (chunk: Buffer) => {
      chunks.push(Buffer.from(chunk));
      onProgress?.(chunks.reduce((n, c) => n + c.length, 0));
    };
    if (typeof body === 'function') await body(write);
    else for await (const chunk of body) await write(chunk as Buffer);
    const bytes = Buffer.concat(chunks);
    if (bytes.length !== size) throw new Error(`${name}: ${bytes.length} bytes uploaded, ${size} announced`);
    this.uploaded.set(name, { size, sha256: sha256(bytes) });
  }

  async validate(): Promise<{ missingFiles: string[]; invalidFiles: string[] }> {
    this.library.throwIfFailing('validate');
    return { missingFiles: [], invalidFiles: [] };
  }

  async complete(): Promise<void> {
    if (this.state !== 'ACTIVE') throw new Error(`complete() on a ${this.state} session`);
    this.library.throwIfFailing('complete');
    this.state = 'DONE';
    this.library.files.set(
      this.itemId,
      [...this.uploaded].map(([name, f]) => ({
        name,
        size: f.size,
        checksum: { algorithm: 'SHA256', checksum: f.sha256 },
      })),
    );
  }

  async fail(message: string): Promise<void> {
    if (this.state === 'ACTIVE') this.state = 'FAILED';
    this.failMessage = message;
  }

  async cancel(): Promise<void> {
    if (this.state === 'ACTIVE') this.state = 'CANCELED';
  }
}

/** One library in memory; `failing` makes one step of every session throw. */
class FakeLibrary implements ContentLibrary {
  readonly items = new Map<string, LibraryItemInfo>();
  readonly files = new Map<string, LibraryFileInfo[]>();
  readonly sessions: FakeSession[] = [];
  readonly created: string[] = [];
  failing: { step: Step; error: Error } | undefined;
  deleteError: Error | undefined;
  #next = 0;

  throwIfFailing(step: Step): void {
    if (this.failing?.step === step) throw this.failing.error;
  }

  async checkSession(): Promise<void> {}
  async logout(): Promise<void> {}

  async ensureLibrary(): Promise<string> {
    return LIBRARY_ID;
  }

  async listItems(): Promise<LibraryItemInfo[]> {
    return [...this.items.values()];
  }

  async findItemByName(libraryId: string, name: string): Promise<LibraryItemInfo | undefined> {
    expect(libraryId).toBe(LIBRARY_ID);
    return [...this.items.values()].find((i) => i.name === name);
  }

  async getItem(itemId: string): Promise<LibraryItemInfo | undefined> {
    return this.items.get(itemId);
  }

  async createItem(libraryId: string, item: { name: string; description: string }): Promise<string> {
    expect(libraryId).toBe(LIBRARY_ID);
    const id = `item-${++this.#next}`;
    this.items.set(id, { id, name: item.name, description: item.description });
    this.created.push(id);
    return id;
  }

  async updateItem(itemId: string, patch: { description?: string }): Promise<void> {
    const item = this.items.get(itemId);
    if (!item) throw new Error(`updateItem of missing item ${itemId}`);
    if (patch.description !== undefined) item.description = patch.description;
  }

  async deleteItem(itemId: string): Promise<void> {
    if (this.deleteError) throw this.deleteError;
    this.items.delete(itemId);
    this.files.delete(itemId);
  }

  async listFiles(itemId: string): Promise<LibraryFileInfo[]> {
    return this.files.get(itemId) ?? [];
  }

  async openUpdateSession(itemId: string): Promise<FakeSession> {
    if (!this.items.has(itemId)) throw new Error(`update session on missing item ${itemId}`);
    const session = new FakeSession(`session-${++this.#next}`, itemId, this);
    this.sessions.push(session);
    return session;
  }

  async failOpenSessions(itemId: string, message: string): Promise<number> {
    const open = this.sessions.filter((s) => s.itemId === itemId && s.state === 'ACTIVE');
    for (const s of open) await s.fail(message);
    return open.length;
  }

  async listUpdateSessions(opts: { activeOnly?: boolean } = {}): Promise<string[]> {
    return this.sessions.filter((s) => !opts.activeOnly || s.state === 'ACTIVE').map((s) => s.id);
  }

  /** The one item named ITEM_NAME, if any. */
  item(): LibraryItemInfo | undefined {
    return [...this.items.values()].find((i) => i.name === ITEM_NAME);
  }
}

let files = 0;

/**
 * A growing file that tells when the importer has read its last entry's last byte: it lies in
 * the 512-byte block before the tar's 1024-byte end marker (which nobody uploads).
 */
class ObservedFile extends GrowingFile {
  constructor(
    partialPath: string,
    finalPath: string,
    size: number,
    private readonly allRead: () => void,
  ) {
    super(partialPath, finalPath, size);
  }

  override reader(): GrowingFileReader {
    const inner = super.reader();
    return {
      readAt: async (buf, position, signal) => {
        const n = await inner.readAt(buf, position, signal);
        if (position + n > this.size - 1024 - 512) this.allRead();
        return n;
      },
      close: () => inner.close(),
    };
  }
}

/**
 * The cache, with the whole object on disk at once. `proven` settles the download as
 * soon as the file is open; an error settles it (fails it) only once the reader has every byte,
 * as the real cache learns a SHA-256 mismatch only at the end, or when the download is stopped.
 */
class FakeCache implements ImageCache {
  readonly fetched: ArtifactRef[] = [];
  signal: AbortSignal | undefined;
  released = 0;

  opened = false;

  constructor(
    private readonly bytes: Buffer,
    private readonly outcome: 'proven' | Error,
    /** When given, the file opens empty, as for a queued download, and its bytes come once this settles. */
    private readonly gate?: Promise<void>,
  ) {}

  async fetch(_store: ObjectStore, ref: ArtifactRef, options: FetchOptions = {}): Promise<CachedImage> {
    this.fetched.push(ref);
    this.signal = options.signal;
    let allRead!: () => void;
    const readToEnd = new Promise<void>((resolve) => {
      allRead = resolve;
    });
    // A real cache file (the prover reads it in a worker), wholly on disk from the start.
    const n = ++files;
    const file = new ObservedFile(join(dir, `${n}.partial`), join(dir, `${n}.ova`), this.bytes.length, allRead);
    const open = () => {
      options.onOpen?.(file);
      this.opened = true;
    };
    if (this.gate) {
      open();
      await this.gate;
    }
    await writeFile(file.partialPath, this.bytes);
    file.grew(this.bytes.length);
    if (!this.gate) open();
    options.onProgress?.(this.bytes.length, ref.size);
    if (this.outcome !== 'proven') {
      const stopped = new Promise<never>((_, reject) => {
        if (options.signal?.aborted) reject(options.signal.reason);
        options.signal?.addEventListener('abort', () => reject(options.signal?.reason), { once: true });
      });
      try {
        await Promise.race([readToEnd, stopped]);
      } finally {
        file.fail(this.outcome);
      }
      throw this.outcome;
    }
    await rename(file.partialPath, file.finalPath);
    file.prove();
    return {
      path: file.finalPath,
      size: this.bytes.length,
      sha256: ref.sha256,
      reused: false,
      bytesFromStore: this.bytes.length,
      release: () => {
        this.released++;
      },
    };
  }
}

/** The importer never reads the store itself: only the cache does. */
const store = new Proxy({} as ObjectStore, {
  get(_target, key) {
    if (key === 'then') return undefined;
    throw new Error(`the importer used the store (${String(key)}) instead of the cache`);
  },
});

function recordingLogger(warnings: string[]): Logger {
  const log: Logger = {
    debug: () => undefined,
    info: () => undefined,
    warn: (a: object | string, b?: string) => void warnings.push(typeof a === 'string' ? a : (b ?? '')),
    error: () => undefined,
    child: () => log,
  };
  return log;
}

let dir: string;
let ova: Buffer;
let manifest: Manifest;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-importer-'));
  const built = await buildOva(dir, { name: 'ubuntu', diskSize: 300_000 });
  ova = await readFile(built.path);
  manifest = {
    schema: 'ferry/manifest/v1',
    name: 'ubuntu',
    version: '1',
    artifact: 'ubuntu/1/ubuntu.ova',
    sha256: built.sha256,
    size: built.size,
    files: built.files,
    targets: ['*'],
    labels: {},
    publishedAt: '2026-11-02T00:00:00Z',
    keyId: 'k',
    signature: 's',
  };
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

type Existing = 'none' | 'same' | 'same-importing' | 'other' | 'foreign';

/** A library that holds, under the item's name, nothing or an item of the kind `existing` says. */
function libraryWith(existing: Existing): { library: FakeLibrary; existingId?: string } {
  const library = new FakeLibrary();
  if (existing === 'none') return { library };
  const marker = { name: 'ubuntu', version: '1', publishedAt: '2026-11-01T00:00:00Z' };
  const description = {
    same: formatMarker({ ...marker, sha256: manifest.sha256 }),
    'same-importing': formatMarker({ ...marker, sha256: manifest.sha256, importing: true }),
    other: formatMarker({ ...marker, sha256: 'f'.repeat(64) }),
    foreign: 'a template someone uploaded by hand',
  }[existing];
  const existingId = 'item-existing';
  library.items.set(existingId, { id: existingId, name: ITEM_NAME, description });
  library.files.set(existingId, [{ name: 'old.vmdk', size: 1 }]);
  return { library, existingId };
}

function importerFor(library: FakeLibrary, cache: FakeCache, warnings: string[] = []): ImageImporter {
  return new ImageImporter({
    library,
    libraryId: async () => LIBRARY_ID,
    store,
    cache,
    queues: new TransferQueues({ downloads: 1, imports: 1 }),
    itemNameTemplate: '{name}-{version}',
    logger: recordingLogger(warnings),
  });
}

const expectedFiles = () =>
  manifest.files.map((f) => ({ name: f.name, size: f.size, checksum: { algorithm: 'SHA256', checksum: f.sha256 } }));

describe('ImageImporter: which item, and whether to import at all', () => {
  const cases: Array<{
    name: string;
    existing: Existing;
    force?: boolean;
    skipped: boolean;
    /** The item imported into: a new one, or the one already there. */
    into: 'new' | 'existing';
  }> = [
    { name: 'no item yet: creates one and imports', existing: 'none', skipped: false, into: 'new' },
    { name: 'the library holds this sha256: nothing to do', existing: 'same', skipped: true, into: 'existing' },
    {
      name: 'this sha256, but a crashed run left it importing: imports again into it',
      existing: 'same-importing',
      skipped: false,
      into: 'existing',
    },
    {
      name: 'this sha256 with force: imports again into it',
      existing: 'same',
      force: true,
      skipped: false,
      into: 'existing',
    },
    { name: 'another sha256 (republished): imports into it', existing: 'other', skipped: false, into: 'existing' },
  ];

  it.each(cases)('$name', async ({ existing, force, skipped, into }) => {
    const { library, existingId } = libraryWith(existing);
    // A session a crashed run left open on the existing item: a new import must fail it first.
    const leftover = existingId ? await library.openUpdateSession(existingId) : undefined;
    const cache = new FakeCache(ova, 'proven');
    const progress: string[] = [];

    const result = await importerFor(library, cache).import({
      manifest,
      ...(force ? { force } : {}),
      onProgress: (p) => progress.push(p.state),
    });

    const item = library.item();
    expect(item?.id).toBe(into === 'new' ? library.created[0] : existingId);
    expect(result).toMatchObject({ itemId: item?.id, itemName: ITEM_NAME, skipped });
    expect(library.created).toHaveLength(into === 'new' ? 1 : 0);
    if (skipped) {
      expect(cache.fetched).toEqual([]);
      expect(library.sessions.filter((s) => s !== leftover)).toEqual([]);
      expect(result).toMatchObject({ bytesDownloaded: 0, bytesUploaded: 0 });
      expect(leftover?.state).toBe('ACTIVE'); // a skip touches nothing
      return;
    }
    expect(cache.fetched).toEqual([{ artifact: manifest.artifact, sha256: manifest.sha256, size: manifest.size }]);
    expect(cache.released).toBe(1);
    expect(leftover?.state ?? 'FAILED').toBe('FAILED');
    const session = library.sessions.at(-1)!;
    expect(session.state).toBe('DONE');
    expect(await library.listFiles(item!.id)).toEqual(expectedFiles());
    // Done: the marker holds the new sha256 and publish time, no longer `importing`.
    expect(parseMarker(item?.description)).toEqual({
      name: 'ubuntu',
      version: '1',
      sha256: manifest.sha256,
      publishedAt: manifest.publishedAt,
    });
    expect(result.bytesUploaded).toBe(manifest.files.reduce((n, f) => n + f.size, 0));
    expect(result.bytesDownloaded).toBe(manifest.size);
    expect(progress).toContain('downloading');
    expect(progress.at(-1)).toBe('importing');
  });

  it('an item with the name that ferry did not make: ItemConflictError, the item untouched', async () => {
    const { library, existingId } = libraryWith('foreign');
    const before = structuredClone(library.items.get(existingId!));
    const cache = new FakeCache(ova, 'proven');

    const err = await importerFor(library, cache)
      .import({ manifest })
      .catch((e: unknown) => e);

    expect(err).toBeInstanceOf(ItemConflictError);
    expect(isRetryable(err)).toBe(false);
    expect(library.items.get(existingId!)).toEqual(before);
    expect(library.sessions).toEqual([]);
    expect(cache.signal?.aborted).toBe(true); // a retry would meet the same item: the download stops
  });
});

describe('ImageImporter: what a failed import leaves behind', () => {
  const mismatch = () => new ChecksumMismatchError('object ubuntu/1/ubuntu.ova', 'a'.repeat(64), 'b'.repeat(64));
  const cases: Array<{
    name: string;
    existing: Existing;
    cache?: () => Error;
    failing?: { step: Step; error: () => Error };
    error: new (...args: never[]) => Error;
    retryable: boolean;
  }> = [
    {
      name: 'the object fails its SHA-256 at the end, new item: session failed, item deleted',
      existing: 'none',
      cache: mismatch,
      error: ChecksumMismatchError,
      retryable: false,
    },
    {
      name: 'the object fails its SHA-256 at the end, existing item: session failed, item kept',
      existing: 'other',
      cache: mismatch,
      error: ChecksumMismatchError,
      retryable: false,
    },
    {
      name: 'vCenter answers 503 to an upload: retryable, the download runs on into the cache',
      existing: 'none',
      failing: { step: 'upload', error: () => new VsphereError('upload', 'HTTP 503: busy', { status: 503 }) },
      error: VsphereError,
      retryable: true,
    },
    {
      name: 'validation finds a file missing: not retryable, the download stops',
      existing: 'none',
      failing: {
        step: 'validate',
        error: () => new UpdateSessionError('s', 'validate', 'missing files: x.vmdk', { missingFiles: ['x.vmdk'] }),
      },
      error: UpdateSessionError,
      retryable: false,
    },
    {
      name: 'the session ends in ERROR on complete, existing item: retryable, item kept',
      existing: 'same-importing',
      failing: {
        step: 'complete',
        error: () => new UpdateSessionError('s', 'complete', 'disk full', { retryable: true }),
      },
      error: UpdateSessionError,
      retryable: true,
    },
  ];

  it.each(cases)('$name', async ({ existing, cache: cacheError, failing, error, retryable }) => {
    const { library, existingId } = libraryWith(existing);
    const before = existingId ? structuredClone(library.files.get(existingId)) : undefined;
    if (failing) library.failing = { step: failing.step, error: failing.error() };
    const cache = new FakeCache(ova, cacheError ? cacheError() : 'proven');

    const err = await importerFor(library, cache)
      .import({ manifest })
      .catch((e: unknown) => e);

    expect(err).toBeInstanceOf(error);
    expect(isRetryable(err)).toBe(retryable);
    // vCenter is told, and the session does not stay open.
    const session = library.sessions.at(-1)!;
    expect(session.state).toBe('FAILED');
    expect(session.failMessage).toBe(`ferry: ${(err as Error).message}`);
    if (existingId) {
      // Not ours to delete: it keeps its files and an `importing` marker for reconcile.
      const item = library.items.get(existingId);
      expect(item).toBeDefined();
      expect(parseMarker(item?.description)).toMatchObject({ sha256: manifest.sha256, importing: true });
      expect(library.files.get(existingId)).toEqual(before);
    } else {
      expect(library.created).toHaveLength(1);
      expect(library.items.size).toBe(0); // the item this run created is gone
    }
    // Only a failure a retry would meet again stops the download; otherwise it fills the cache.
    expect(cache.signal?.aborted).toBe(!retryable);
  });

  it('an item that cannot be deleted after a failure: the import error is reported, a warning logged', async () => {
    const { library } = libraryWith('none');
    library.failing = { step: 'validate', error: new UpdateSessionError('s', 'validate', 'missing files: x') };
    library.deleteError = new VsphereError('delete item', 'HTTP 503: busy', { status: 503 });
    const warnings: string[] = [];

    const err = await importerFor(library, new FakeCache(ova, 'proven'), warnings)
      .import({ manifest })
      .catch((e: unknown) => e);

    expect(err).toBe(library.failing.error);
    expect(warnings).toContain('could not delete the half-imported item');
    // Left with its `importing` marker: the next reconcile pass re-imports or prunes it.
    expect(parseMarker(library.item()?.description)?.importing).toBe(true);
  });
});

describe('ImageImporter: one proof per image for the zone', () => {
  /** A zone target's importer sharing `proofs`. */
  function targetImporter(library: FakeLibrary, cache: FakeCache, proofs: OvaProofs) {
    return new ImageImporter({
      library,
      libraryId: async () => LIBRARY_ID,
      store,
      cache,
      proofs,
      queues: new TransferQueues({ downloads: 2, imports: 2 }),
      itemNameTemplate: '{name}-{version}',
      logger: recordingLogger([]),
    });
  }
  const uploaded = (library: FakeLibrary) =>
    [...library.sessions[0]!.uploaded].map(([name, f]) => ({ name, size: f.size, sha256: f.sha256 }));

  it('targets importing at once follow one prover, a later one uses the kept proof: every item whole', async () => {
    const proofs = new OvaProofs();
    const libraries = [new FakeLibrary(), new FakeLibrary(), new FakeLibrary()];
    const cache = new FakeCache(ova, 'proven');
    await Promise.all(libraries.slice(0, 2).map((l) => targetImporter(l, cache, proofs).import({ manifest })));
    expect(proofs.counts).toEqual({ hashed: 1, reused: 1 });
    await targetImporter(libraries[2]!, cache, proofs).import({ manifest });
    expect(proofs.counts).toEqual({ hashed: 1, reused: 2 });
    for (const library of libraries) {
      expect(uploaded(library)).toEqual(manifest.files);
      expect(library.sessions[0]!.state).toBe('DONE');
    }
  });

  it('a manifest that signs other digests for the same bytes gets a prover of its own, and its error', async () => {
    const proofs = new OvaProofs();
    await targetImporter(new FakeLibrary(), new FakeCache(ova, 'proven'), proofs).import({ manifest });
    const disk = manifest.files.at(-1)!;
    const other: Manifest = {
      ...manifest,
      files: manifest.files.map((f) => (f === disk ? { ...f, sha256: 'e'.repeat(64) } : f)),
    };
    const library = new FakeLibrary();
    const err = await targetImporter(library, new FakeCache(ova, 'proven'), proofs)
      .import({ manifest: other })
      .catch((e: unknown) => e as Error);
    expect(proofs.counts).toEqual({ hashed: 2, reused: 0 });
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    expect((err as Error).message).toContain(`"${disk.name}" (per signed manifest)`);
    expect(library.sessions[0]!.state).toBe('FAILED');
  });

  it('the proof starts with the first bytes on disk (not for a queued download), while the import waits for its slot', async () => {
    const proofs = new OvaProofs();
    const queues = new TransferQueues({ downloads: 1, imports: 1 });
    let freeSlot!: () => void;
    const busy = queues.import(() => new Promise<void>((resolve) => (freeSlot = resolve)));
    let startDownload!: () => void;
    const cache = new FakeCache(ova, 'proven', new Promise<void>((resolve) => (startDownload = resolve)));
    const library = new FakeLibrary();
    const importer = new ImageImporter({
      library,
      libraryId: async () => LIBRARY_ID,
      store,
      cache,
      proofs,
      queues,
      itemNameTemplate: '{name}-{version}',
    });
    const importing = importer.import({ manifest });
    await waitFor(() => cache.opened, { what: 'the cache to open the file' });
    expect(proofs.counts.hashed).toBe(0); // no byte on disk yet: no prover thread
    startDownload();
    await waitFor(() => proofs.counts.hashed === 1, { what: 'a prover on the first bytes' });
    expect(library.sessions).toHaveLength(0); // the import still waits for its slot
    freeSlot();
    await busy;
    await importing;
    expect(uploaded(library)).toEqual(manifest.files);
    expect(proofs.counts).toEqual({ hashed: 1, reused: 0 });
  });

  it('a proof is kept only once the object itself is proven', async () => {
    const proofs = new OvaProofs();
    const mismatch = new ChecksumMismatchError('object ubuntu/1/ubuntu.ova', 'a'.repeat(64), 'b'.repeat(64));
    await targetImporter(new FakeLibrary(), new FakeCache(ova, mismatch), proofs)
      .import({ manifest })
      .catch(() => undefined);
    await targetImporter(new FakeLibrary(), new FakeCache(ova, 'proven'), proofs).import({ manifest });
    expect(proofs.counts).toEqual({ hashed: 2, reused: 0 });
  });
});

describe('OvaProofs', () => {
  const summary = (files: Manifest['files']) => ({ ovf: 'a.ovf', mf: 'a.mf', references: [], files });
  const files = [
    { name: 'a.ovf', size: 10, sha256: '1'.repeat(64) },
    { name: 'a-disk1.vmdk', size: 20, sha256: '2'.repeat(64) },
  ];
  const entries = [
    { name: 'a.ovf', size: 10, role: 'ovf' as const, offset: 512 },
    { name: 'a-disk1.vmdk', size: 20, role: 'file' as const, offset: 1536 },
  ];
  /** A stand-in prover that counts its stops. */
  function fakeProver() {
    const p = {
      stops: 0,
      entries: async function* () {
        yield* entries;
      },
      summary: async () => summary(files),
      throwIfFailed: () => {},
      stop: async () => {
        p.stops++;
      },
    };
    return p;
  }

  it.each([
    ['the same signed files', files, true],
    ['another digest', [files[0]!, { ...files[1]!, sha256: '3'.repeat(64) }], false],
    ['another size', [files[0]!, { ...files[1]!, size: 21 }], false],
    ['a file missing', [files[0]!], false],
    ['a file more', [...files, { name: 'b.iso', size: 1, sha256: '4'.repeat(64) }], false],
  ])('a kept proof holds for %s: %s', async (_label, signed, holds) => {
    const proofs = new OvaProofs();
    proofs.remember('s', { entries, summary: summary(files) });
    let started = 0;
    const proof = proofs.acquire('s', signed, () => {
      started++;
      return fakeProver();
    });
    expect(started).toBe(holds ? 0 : 1);
    const seen = [];
    for await (const e of proof.entries()) seen.push(e);
    expect(seen).toEqual(entries);
  });

  it('a running prover is shared and stopped by its last user only', async () => {
    const proofs = new OvaProofs();
    const prover = fakeProver();
    const a = proofs.acquire('s', files, () => prover);
    const b = proofs.acquire('s', files, () => {
      throw new Error('started a second prover');
    });
    await a.stop();
    await a.stop(); // twice: still one user less
    expect(prover.stops).toBe(0);
    await b.stop();
    expect(prover.stops).toBe(1);
    // Stopped and not kept: the next import starts one again.
    let started = 0;
    proofs.acquire('s', files, () => {
      started++;
      return fakeProver();
    });
    expect(started).toBe(1);
  });

  it('forgets the oldest kept proof beyond its size', () => {
    const proofs = new OvaProofs(2);
    for (const sha of ['a', 'b', 'c']) proofs.remember(sha, { entries, summary: summary(files) });
    const started = ['a', 'b', 'c'].map((sha) => {
      let n = 0;
      proofs.acquire(sha, files, () => {
        n++;
        return fakeProver();
      });
      return n;
    });
    expect(started).toEqual([1, 0, 0]);
  });
});
