/**
 * The job importer of a `subscribe:` target: nothing is transferred by ferry. Once the source
 * target's library holds the image (its import proven and completed), the subscribed library is
 * made to follow that library and the item is synced; `ready` once it holds every file.
 */
import { type Logger, type Manifest, silentLogger } from '@ferry/shared';
import type { JobImporter } from '../jobs/job-runner.js';
import { pollUntil } from '../poll.js';
import type { ContentLibraryClient, LibraryItemInfo } from '../vcenter/content-library-client.js';
import type { ImportRequest, ImportResult } from './image-importer.js';
import { parseMarker } from './item-marker.js';
import {
  DEFAULT_SYNC_TIMEOUT_MS,
  ensureSubscription,
  expectedFilesOf,
  SubscriptionError,
  syncItem,
} from './subscription.js';

export interface SubscribedImporterOptions {
  /** The source target: its client, library and how it finds the image's item. */
  source: {
    site: string;
    library: ContentLibraryClient;
    libraryId: () => Promise<string>;
    findItem(manifest: Pick<Manifest, 'name' | 'version'>): Promise<LibraryItemInfo | undefined>;
  };
  /** The subscribed library's vCenter, name and datastore. */
  target: { library: ContentLibraryClient; libraryName: string; datastore: string };
  itemName: (m: Pick<Manifest, 'name' | 'version'>) => string;
  /** How long to wait for the source's import and then for the sync. */
  timeoutMs?: number;
  logger?: Logger;
}

export class SubscribedImporter implements JobImporter {
  readonly #o: SubscribedImporterOptions;
  readonly #log: Logger;

  constructor(options: SubscribedImporterOptions) {
    this.#o = options;
    this.#log = options.logger ?? silentLogger();
  }

  /** The subscribed library's id, or undefined before ferry first subscribed it. */
  async libraryId(): Promise<string | undefined> {
    return this.#o.target.library.findLibraryByName(this.#o.target.libraryName);
  }

  async findItem(manifest: Pick<Manifest, 'name' | 'version'>): Promise<LibraryItemInfo | undefined> {
    const id = await this.libraryId();
    return id === undefined ? undefined : this.#o.target.library.findItemByName(id, this.#o.itemName(manifest));
  }

  async import(request: ImportRequest): Promise<ImportResult> {
    const { manifest, signal } = request;
    const { source, target } = this.#o;
    const timeoutMs = this.#o.timeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS;
    const itemName = this.#o.itemName(manifest);
    const log = this.#log.child({ image: `${manifest.name}@${manifest.version}`, source: source.site });
    request.onProgress?.({ state: 'importing', bytesDone: 0, bytesTotal: totalOf(manifest) });
    // The source's item counts once its marker says these bytes, import finished.
    const sourceItem = await pollUntil(
      async () => {
        const item = await source.findItem(manifest);
        const marker = parseMarker(item?.description);
        return item && marker?.sha256 === manifest.sha256 && !marker.importing ? item : undefined;
      },
      {
        timeoutMs,
        ...(signal ? { signal } : {}),
        onTimeout: () =>
          new SubscriptionError(
            'SUBSCRIPTION_SOURCE_MISSING',
            `${source.site} has not imported ${itemName} yet; this subscribed target syncs once it has`,
            { retryable: true },
          ),
      },
    );
    const subscription = await ensureSubscription({
      source: { client: source.library, libraryId: await source.libraryId() },
      target: { client: target.library, libraryName: target.libraryName, datastore: target.datastore },
      logger: log,
    });
    const report = await syncItem({
      client: target.library,
      libraryId: subscription.subscribedLibraryId,
      name: itemName,
      sourceItemId: sourceItem.id,
      expected: await expectedFilesOf(source.library, sourceItem.id),
      timeoutMs,
      onProgress: (p) => request.onProgress?.({ state: 'importing', bytesDone: p.bytes, bytesTotal: p.totalBytes }),
      ...(signal ? { signal } : {}),
      logger: log,
    });
    log.info({ itemId: report.itemId }, 'subscribed item synced');
    return { itemId: report.itemId ?? '', itemName, skipped: false, bytesDownloaded: 0, bytesUploaded: 0 };
  }
}

function totalOf(manifest: Manifest): number {
  return manifest.files.reduce((sum, f) => sum + f.size, 0);
}
