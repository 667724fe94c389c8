import { createReadStream } from 'node:fs';
import {
  type JobState,
  type Logger,
  type Manifest,
  type ObjectStore,
  OvaReader,
  renderItemName,
  silentLogger,
} from '@ferry/shared';
import type { ContentLibraryClient, LibraryItemInfo } from './content-library-client.js';
import type { DownloadCache } from './download-cache.js';
import { ItemConflictError } from './errors.js';
import { formatMarker, parseMarker } from './item-marker.js';
import type { TransferQueues } from './transfer-queues.js';

export interface ImageImporterOptions {
  library: ContentLibraryClient;
  /** Resolves (and creates when missing) the library id; called once per import. */
  libraryId: () => Promise<string>;
  store: ObjectStore;
  cache: DownloadCache;
  queues: TransferQueues;
  itemNameTemplate: string;
  logger?: Logger;
}

export interface ImportProgress {
  state: Extract<JobState, 'downloading' | 'verifying' | 'importing'>;
  bytesDone: number;
  bytesTotal: number;
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

/**
 * One image, store → verified cache → Content Library item. Downloads and uploads
 * go through the shared bounded queues. On any failure during upload the update
 * session is failed and an item this run created is deleted: no half item stays.
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

    const cached = await this.#o.queues.download(() => {
      request.onProgress?.({ state: 'downloading', bytesDone: 0, bytesTotal: manifest.size });
      return this.#o.cache.fetch(
        this.#o.store,
        { artifact: manifest.artifact, sha256: manifest.sha256, size: manifest.size },
        {
          signal: request.signal,
          onProgress: (bytesDone, bytesTotal) => request.onProgress?.({ state: 'downloading', bytesDone, bytesTotal }),
        },
      );
    });
    request.onProgress?.({ state: 'verifying', bytesDone: manifest.size, bytesTotal: manifest.size });
    try {
      return await this.#o.queues.import(async () => {
        const uploaded = await this.#upload(manifest, itemName, existing, cached.path, request, log);
        return { ...uploaded, itemName, skipped: false, bytesDownloaded: cached.bytesFromStore };
      });
    } finally {
      cached.release();
    }
  }

  async #upload(
    manifest: Manifest,
    itemName: string,
    existing: LibraryItemInfo | undefined,
    path: string,
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

    const total = manifest.files.reduce((sum, f) => sum + f.size, 0);
    let sent = 0;
    const session = await library.openUpdateSession(itemId);
    log.info({ itemId, sessionId: session.id, created }, 'importing into content library');
    try {
      const reader = new OvaReader(createReadStream(path, { highWaterMark: 1 << 20 }), {
        archiveSize: manifest.size,
        expectedFiles: manifest.files,
      });
      for await (const entry of reader) {
        const file = manifest.files.find((f) => f.name === entry.name);
        const uploadUrl = await session.addFile({
          name: entry.name,
          size: entry.size,
          ...(file ? { checksum: { algorithm: 'SHA256' as const, checksum: file.sha256 } } : {}),
        });
        const before = sent;
        await session.upload(uploadUrl, entry.body, entry.size, (bytes) => {
          sent = before + bytes;
          request.onProgress?.({ state: 'importing', bytesDone: sent, bytesTotal: total });
        });
        sent = before + entry.size;
        if (request.signal?.aborted) throw request.signal.reason;
      }
      await session.validate();
      await session.complete();
    } catch (err) {
      await session.fail(`ferry: ${(err as Error).message}`);
      if (created) {
        await library.deleteItem(itemId).catch((cleanup: unknown) =>
          // The item keeps its `importing` marker: the next reconcile pass re-imports or prunes it.
          log.warn({ itemId, err: (cleanup as Error).message }, 'could not delete the half-imported item'),
        );
      }
      throw err;
    }
    await library.updateItem(itemId, { description: formatMarker(markerFields) });
    log.info({ itemId, bytes: sent }, 'import complete');
    return { itemId, bytesUploaded: sent };
  }
}
