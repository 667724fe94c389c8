import {
  FerryError,
  isRetryable,
  type JobState,
  type Logger,
  type Manifest,
  type ObjectStore,
  renderItemName,
  silentLogger,
  sleep,
} from '@ferry/shared';
import type PQueue from 'p-queue';
import { ItemConflictError } from '../errors.js';
import type { ContentLibrary, LibraryItemInfo, LibraryUpdateSession } from '../vcenter/content-library.js';
import type { CachedImage, ImageCache } from './download-cache.js';
import type { GrowingFileReader, ReadableGrowingFile } from './growing-file.js';
import { formatMarker, parseMarker } from './item-marker.js';
import type { EntryProof, OvaProofs } from './ova-proofs.js';
import { OvaProver, type ProverEntry } from './ova-prover.js';
import { reserveAll, type TokenBucket } from './token-bucket.js';
import type { TransferQueues } from './transfer-queues.js';

/** How a target receives files: ferry uploads them (PUSH), or vCenter GETs them from the agent (PULL). */
export interface PullTransport {
  /** Drives an open session through a PULL of the verified cached OVA's entries; completes it. */
  pull(session: LibraryUpdateSession, cachedPath: string, manifest: Manifest, signal?: AbortSignal): Promise<number>;
}

export interface ImageImporterOptions {
  library: ContentLibrary;
  /** Resolves (and creates when missing) the library id; called once per import. */
  libraryId: () => Promise<string>;
  store: ObjectStore;
  cache: ImageCache;
  queues: TransferQueues;
  itemNameTemplate: string;
  /** This target's own import cap (`targets[].concurrency.imports`), inside the zone's. */
  targetImports?: PQueue;
  /** Limits on bytes sent to vCenter (agent-wide and the target's `bandwidth.vcenter`). */
  uploadBuckets?: readonly TokenBucket[];
  /** Set for a `transfer: pull` target. */
  pull?: PullTransport;
  /**
   * OVA proofs shared by the zone's targets: an image proven once is not hashed again.
   * @default none: every import proves its OVA
   */
  proofs?: OvaProofs;
  logger?: Logger;
}

export interface ImportProgress {
  state: Extract<JobState, 'downloading' | 'verifying' | 'importing'>;
  /** `downloading`: bytes in the cache; `importing`: bytes uploaded to the update session. */
  bytesDone: number;
  /** `downloading`: the object's size; `importing`: the sum of its files' sizes. */
  bytesTotal: number;
  /** `importing` while the download still runs beside it: bytes in the cache (of the object's size). */
  bytesDownloaded?: number;
}

export interface ImportRequest {
  manifest: Manifest;
  /** Re-import even when the library already holds this sha256. */
  force?: boolean;
  onProgress?: (progress: ImportProgress) => void;
  signal?: AbortSignal;
}

export interface ImportResult {
  itemId: string;
  itemName: string;
  /** The library already held this sha256: nothing was downloaded or uploaded. */
  skipped: boolean;
  bytesDownloaded: number;
  bytesUploaded: number;
}

/** Bytes per read of the cache file while sending (two such buffers per import). */
const SEND_BYTES = 1 << 20;

type Settled = { cached: CachedImage; error?: undefined } | { cached?: undefined; error: unknown };

/**
 * One image, store → verified cache → Content Library item, in one pass: the import
 * follows the cache file while the download fills it, so an image costs the slower of
 * the two links, not their sum. Downloads and uploads go through the shared bounded
 * queues (a queued import waits for its slot while the download goes on). Nothing is
 * completed in vCenter before the whole object's size and SHA-256 are proven; on any
 * failure the update session is failed and an item this run created is deleted.
 */
export class ImageImporter {
  readonly #o: ImageImporterOptions;
  readonly #log: Logger;

  constructor(options: ImageImporterOptions) {
    this.#o = options;
    this.#log = options.logger ?? silentLogger();
  }

  itemName(manifest: Pick<Manifest, 'name' | 'version'>): string {
    return renderItemName(this.#o.itemNameTemplate, manifest.name, manifest.version);
  }

  /** The library item ferry made for this image version, if any. */
  async findItem(manifest: Pick<Manifest, 'name' | 'version'>): Promise<LibraryItemInfo | undefined> {
    const libraryId = await this.#o.libraryId();
    return this.#o.library.findItemByName(libraryId, this.itemName(manifest));
  }

  async import(request: ImportRequest): Promise<ImportResult> {
    const { manifest } = request;
    const log = this.#log.child({ image: `${manifest.name}@${manifest.version}` });
    const itemName = this.itemName(manifest);
    const existing = await this.findItem(manifest);
    const marker = parseMarker(existing?.description);
    if (existing && marker && marker.sha256 === manifest.sha256 && !marker.importing && !request.force) {
      log.info({ itemId: existing.id }, 'library already holds this sha256; nothing to do');
      return { itemId: existing.id, itemName, skipped: true, bytesDownloaded: 0, bytesUploaded: 0 };
    }

    const progress = { downloaded: 0, sent: 0, importing: false };
    const total = manifest.files.reduce((sum, f) => sum + f.size, 0);
    const report = () =>
      request.onProgress?.(
        progress.importing
          ? {
              state: 'importing',
              bytesDone: progress.sent,
              bytesTotal: total,
              ...(progress.downloaded < manifest.size ? { bytesDownloaded: progress.downloaded } : {}),
            }
          : { state: 'downloading', bytesDone: progress.downloaded, bytesTotal: manifest.size },
      );

    // The download is stopped early only when the import failed for a reason a retry would meet again.
    const stopDownload = new AbortController();
    const signal = request.signal ? AbortSignal.any([request.signal, stopDownload.signal]) : stopDownload.signal;
    let opened!: (file: ReadableGrowingFile) => void;
    const open = new Promise<ReadableGrowingFile>((resolve) => {
      opened = resolve;
    });
    // Every target of the zone wanting these bytes shares one download (the cache dedupes by sha256).
    report();
    const download = this.#o.cache.fetch(
      this.#o.store,
      { artifact: manifest.artifact, sha256: manifest.sha256, size: manifest.size },
      {
        signal,
        onOpen: opened,
        schedule: (run) => this.#o.queues.download(run),
        onProgress: (bytesDone) => {
          progress.downloaded = bytesDone;
          report();
        },
      },
    );
    let downloadFailed = false;
    const settled: Promise<Settled> = download.then(
      (cached) => ({ cached }),
      (error: unknown) => {
        downloadFailed = true;
        return { error };
      },
    );
    // The cache opens the file before it settles; a download that failed first ends the import here.
    const file = await Promise.race([
      open,
      settled.then((end) => {
        throw end.error ?? new Error('the cache settled a download without opening its file');
      }),
    ]);
    // The OVA is proven in a worker as soon as its bytes are on disk: while the download goes on,
    // while this import waits for its slot, or while the cache checks an earlier download's file
    // again. The upload then mostly moves bytes, and the zone's targets share one proof (OvaProofs).
    // A download still queued starts no prover. PULL proves the cached file itself once vCenter
    // may fetch it.
    let prover: EntryProof | undefined;
    const startProof = () => {
      if (!this.#o.pull) prover ??= this.#prove(manifest, file);
      return prover;
    };
    // Watched only until the first bytes are on disk, not for every batch after them.
    let unwatch = () => {};
    if (file.onDisk > 0) startProof();
    else if (!this.#o.pull) {
      unwatch = file.watch(() => {
        if (file.onDisk === 0) return;
        unwatch();
        startProof();
      });
    }
    // The target's own slot first, then the zone's: a target waiting for its turn holds no zone slot.
    const slot = <T>(fn: () => Promise<T>): Promise<T> =>
      this.#o.targetImports
        ? (this.#o.targetImports.add(() => this.#o.queues.import(fn)) as Promise<T>)
        : this.#o.queues.import(fn);
    try {
      return await slot(async () => {
        const early = downloadFailed ? await settled : undefined;
        if (early?.error !== undefined) throw early.error;
        const uploaded = await this.#upload(
          manifest,
          itemName,
          existing,
          file,
          startProof(),
          settled,
          progress,
          report,
          request,
          log,
        );
        const done = await settled;
        return { ...uploaded, itemName, skipped: false, bytesDownloaded: done.cached?.bytesFromStore ?? 0 };
      });
    } catch (err) {
      // A retry must not download again: let the download finish into the cache (or stop it at a
      // point it can resume from) before the job is retried or given up.
      if (!isRetryable(err)) stopDownload.abort(err);
      const end = await settled;
      // A download that failed on its own (bytes not what was signed, cache full or unwritable, store
      // gone) is the root cause of whatever the upload then met reading the file: report that.
      // (When the upload failed first and stopped the download, the download ends with that abort,
      // not with an error of its own.)
      throw end.error instanceof FerryError && end.error !== err ? end.error : err;
    } finally {
      unwatch();
      await prover?.stop();
      (await settled).cached?.release();
    }
  }

  #prove(manifest: Manifest, file: ReadableGrowingFile): EntryProof {
    const start = () => new OvaProver(file, { archiveSize: manifest.size, expectedFiles: manifest.files });
    return this.#o.proofs ? this.#o.proofs.acquire(manifest.sha256, manifest.files, start) : start();
  }

  async #upload(
    manifest: Manifest,
    itemName: string,
    existing: LibraryItemInfo | undefined,
    file: ReadableGrowingFile,
    prover: EntryProof | undefined,
    downloaded: Promise<Settled>,
    progress: { sent: number; importing: boolean },
    report: () => void,
    request: ImportRequest,
    log: Logger,
  ): Promise<{ itemId: string; bytesUploaded: number }> {
    const { library } = this.#o;
    const libraryId = await this.#o.libraryId();
    const markerFields = {
      name: manifest.name,
      version: manifest.version,
      sha256: manifest.sha256,
      publishedAt: manifest.publishedAt,
    };
    let itemId: string;
    let created = false;
    if (existing && parseMarker(existing.description)) {
      itemId = existing.id;
      await library.updateItem(itemId, { description: formatMarker({ ...markerFields, importing: true }) });
    } else if (existing) {
      throw new ItemConflictError(itemName);
    } else {
      itemId = await library.createItem(libraryId, {
        name: itemName,
        description: formatMarker({ ...markerFields, importing: true }),
        type: 'ovf',
      });
      created = true;
    }
    // A crashed earlier run may have left a session open on this item.
    await library.failOpenSessions(itemId, 'superseded by a new ferry import');

    let sent = 0;
    const session = await library.openUpdateSession(itemId);
    log.info({ itemId, sessionId: session.id, created }, 'importing into content library');
    progress.importing = true;
    report();
    if (!prover) {
      return this.#pullImport(session, itemId, created, manifest, downloaded, progress, report, request, log);
    }
    const entries: ProverEntry[] = [];
    const reader = file.reader();
    const buffers = [Buffer.allocUnsafe(SEND_BYTES), Buffer.allocUnsafe(SEND_BYTES)] as const;
    try {
      for await (const entry of prover.entries()) {
        entries.push(entry);
        const signed = manifest.files.find((f) => f.name === entry.name);
        const uploadUrl = await session.addFile({
          name: entry.name,
          size: entry.size,
          ...(signed ? { checksum: { algorithm: 'SHA256' as const, checksum: signed.sha256 } } : {}),
        });
        const before = sent;
        const send = (write: (chunk: Buffer) => Promise<void>) =>
          this.#sendRange(reader, entry, buffers, write, prover, request.signal);
        await session.upload(uploadUrl, send, entry.size, (bytes) => {
          sent = before + bytes;
          progress.sent = sent;
          report();
        });
        sent = before + entry.size;
        request.signal?.throwIfAborted();
      }
      // Every entry proven (sizes, .mf and signed digests), and the whole object's size and SHA-256.
      const summary = await prover.summary();
      const proof = await downloaded;
      if (proof.error !== undefined) throw proof.error;
      prover.throwIfFailed(); // a proof of an earlier download's file is void if the cache's check failed
      this.#o.proofs?.remember(manifest.sha256, { entries, summary });
      await session.validate();
      await session.complete();
    } catch (err) {
      // A download that failed for good is the root cause of what the upload and the proof met after it.
      const cause = file.failed ? ((await downloaded).error ?? err) : err;
      await session.fail(`ferry: ${(cause as Error).message}`);
      await this.#dropCreated(itemId, created, log);
      throw cause;
    } finally {
      await reader.close();
    }
    return this.#finish(itemId, manifest, sent, log);
  }

  /**
   * PULL: vCenter GETs byte ranges of the cached OVA, so the whole object must be proven first
   * (a range of unproven bytes could be what vCenter keeps).
   */
  async #pullImport(
    session: LibraryUpdateSession,
    itemId: string,
    created: boolean,
    manifest: Manifest,
    downloaded: Promise<Settled>,
    progress: { sent: number },
    report: () => void,
    request: ImportRequest,
    log: Logger,
  ): Promise<{ itemId: string; bytesUploaded: number }> {
    try {
      const proof = await downloaded;
      if (!proof.cached) throw proof.error;
      const sent = await this.#o.pull!.pull(session, proof.cached.path, manifest, request.signal);
      progress.sent = sent;
      report();
      return await this.#finish(itemId, manifest, sent, log);
    } catch (err) {
      // pullIntoSession failed the session already; failing again is harmless (and covers errors before it).
      await session.fail(`ferry: ${(err as Error).message}`);
      await this.#dropCreated(itemId, created, log);
      throw err;
    }
  }

  async #finish(itemId: string, manifest: Manifest, sent: number, log: Logger) {
    const { name, version, sha256, publishedAt } = manifest;
    await this.#o.library.updateItem(itemId, { description: formatMarker({ name, version, sha256, publishedAt }) });
    log.info({ itemId, bytes: sent }, 'import complete');
    return { itemId, bytesUploaded: sent };
  }

  async #dropCreated(itemId: string, created: boolean, log: Logger): Promise<void> {
    if (!created) return;
    await this.#o.library.deleteItem(itemId).catch((cleanup: unknown) =>
      // The item keeps its `importing` marker: the next reconcile pass re-imports or prunes it.
      log.warn({ itemId, err: (cleanup as Error).message }, 'could not delete the half-imported item'),
    );
  }

  /**
   * Sends one entry's bytes from the cache file through two reused buffers: one is read while the
   * other is on its way, and a buffer is filled again only once `write` said the socket took it.
   */
  async #sendRange(
    reader: GrowingFileReader,
    entry: ProverEntry,
    buffers: readonly [Buffer, Buffer],
    write: (chunk: Buffer) => Promise<void>,
    prover: EntryProof,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const buckets = this.#o.uploadBuckets ?? [];
    const inflight: [Promise<void> | undefined, Promise<void> | undefined] = [undefined, undefined];
    let failure: unknown;
    const end = entry.offset + entry.size;
    for (let pos = entry.offset, i = 0; pos < end; i ^= 1) {
      await inflight[i];
      if (failure !== undefined) throw failure;
      prover.throwIfFailed();
      const buf = buffers[i]!;
      const n = await reader.readAt(buf.subarray(0, Math.min(buf.length, end - pos)), pos, signal);
      if (n === 0) throw new Error(`the cache file ended at ${pos}, inside entry ${entry.name}`);
      const wait = reserveAll(buckets, n);
      if (wait > 0) await sleep(wait, signal);
      inflight[i] = write(buf.subarray(0, n)).then(
        () => undefined,
        (err: unknown) => {
          failure ??= err;
        },
      );
      pos += n;
    }
    await Promise.all(inflight);
    if (failure !== undefined) throw failure;
  }
}
