/**
 * The `transfer: pull` path of a target: the cached OVA is proven, so each entry is served as a
 * byte range of it (no extraction) from the agent's PULL listener, and vCenter fetches it.
 */
import { createReadStream } from 'node:fs';
import { type Logger, type Manifest, OvaFormatError, OvaReader, silentLogger } from '@ferry/shared';
import type { LibraryUpdateSession } from '../vcenter/content-library.js';
import type { UpdateSession } from '../vcenter/content-library-client.js';
import type { PullTransport } from './image-importer.js';
import type { PullFile, PullServer } from './pull-server.js';
import { pullIntoSession } from './pull-transfer.js';
import type { TokenBucket } from './token-bucket.js';

export interface PullImportOptions {
  /** The agent's listener (started with the agent). */
  server: () => PullServer | undefined;
  /** How long the session's URLs live, and how long vCenter may take to fetch every file. */
  ttlMs: number;
  /** The target's own `bandwidth.vcenter` (the listener applies the agent-wide one). */
  buckets?: readonly TokenBucket[];
  logger?: Logger;
}

export class PullImport implements PullTransport {
  readonly #o: PullImportOptions;

  constructor(options: PullImportOptions) {
    this.#o = options;
  }

  async pull(
    session: LibraryUpdateSession,
    cachedPath: string,
    manifest: Manifest,
    signal?: AbortSignal,
  ): Promise<number> {
    if (!isPullCapable(session)) throw new Error('this vCenter client cannot do PULL transfers: use transfer: push');
    const server = this.#o.server();
    if (!server) throw new Error('transfer: pull needs the agent-level pull listener, which is not running');
    const files = await entryRanges(cachedPath, manifest, signal);
    const reg = server.register(files, this.#o.ttlMs, this.#o.buckets);
    await pullIntoSession(session, reg, { timeoutMs: this.#o.ttlMs, logger: this.#o.logger ?? silentLogger() });
    return files.reduce((sum, f) => sum + f.size, 0);
  }
}

function isPullCapable(session: LibraryUpdateSession): session is UpdateSession {
  return 'addPullFile' in session && 'waitForTransfers' in session;
}

/** Each entry of the cached OVA as a byte range, proven against the signed manifest on the way. */
export async function entryRanges(path: string, manifest: Manifest, signal?: AbortSignal): Promise<PullFile[]> {
  const reader = new OvaReader(createReadStream(path, signal ? { signal } : {}), {
    archiveSize: manifest.size,
    expectedFiles: manifest.files,
  });
  const files: PullFile[] = [];
  for await (const entry of reader) {
    if (entry.offset === undefined) {
      throw new OvaFormatError(
        entry.name,
        'follows an extended (pax or long-name) tar header, so it cannot be served as a byte range: use transfer: push for this target',
      );
    }
    entry.body.resume();
    const sha256 = manifest.files.find((f) => f.name === entry.name)?.sha256 ?? '';
    files.push({ name: entry.name, path, offset: entry.offset, size: entry.size, sha256 });
  }
  return files;
}
