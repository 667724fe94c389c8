/**
 * `ContentLibrary` over the vSphere Content Library REST API (`/rest/com/vmware/...`, the API
 * vCenter 6.5+ serves and govmomi's vcsim simulates): libraries, items, files, update and
 * download sessions. The REST session (login, re-login on 401, error mapping) is
 * VcenterSession's; an open update session is UpdateSession's; the wire format is vapi-wire's.
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { DEFAULT_VSPHERE_KEEP_ALIVE_MS, type Logger, mapLimit, silentLogger } from '@ferry/shared';
import type { Method } from 'got';
import { VsphereError } from '../errors.js';
import type { ContentLibrary, LibraryFileInfo, LibraryItemInfo, UpdateSessionInfo } from './content-library.js';
import { downloadFile } from './download-session.js';
import { getUpdateSession, UpdateSession } from './update-session.js';
import { VAPI_PATHS as P, type RawFile, type RawItem, toItem } from './vapi-wire.js';
import { type CallOptions, VcenterSession } from './vcenter-session.js';

export interface ContentLibraryClientOptions {
  /** vCenter base URL, e.g. https://vcenter.dc1.example (any path is ignored). */
  url: string;
  username: string;
  password: string;
  /** Where the password came from, named when vCenter rejects it (default: both possible places). */
  passwordSource?: string;
  /** Skip TLS certificate verification (self-signed vCenter without a CA file). */
  insecure?: boolean;
  /** CA certificate(s) (PEM) to trust for vCenter. */
  ca?: string | Buffer;
  logger?: Logger;
  /** Keep-alive period while an update session is open (0: none); default `vsphere.keepAlive`'s (5 min). */
  keepAliveMs?: number;
  /** Timeout of a JSON call; default 60 s. For uploads it is the socket idle timeout. */
  requestTimeoutMs?: number;
  /** How long complete() waits for the session to leave ACTIVE; default 30 min. */
  completeTimeoutMs?: number;
}

export type { LibraryFileInfo, LibraryItemInfo, UpdateSessionFileInfo, UpdateSessionInfo } from './content-library.js';
export { UpdateSession } from './update-session.js';
export type { CallOptions } from './vcenter-session.js';

/** Description of the libraries ferry creates: what ferry may replace or delete. */
export const MANAGED_BY_FERRY = 'Managed by ferry';

const LIST_CONCURRENCY = 16;

export class ContentLibraryClient implements ContentLibrary {
  readonly url: string;
  /** Keep-alive period of open update sessions (0: none). */
  readonly keepAliveMs: number;
  /** How long an update session's complete() waits for it to leave ACTIVE. */
  readonly completeTimeoutMs: number;
  private readonly log: Logger;
  private readonly rest: VcenterSession;
  private readonly ensuring = new Map<string, Promise<string>>();

  constructor(opts: ContentLibraryClientOptions) {
    this.url = new URL(opts.url).origin;
    this.log = (opts.logger ?? silentLogger()).child({ component: 'content-library', vcenter: this.url });
    this.keepAliveMs = opts.keepAliveMs ?? DEFAULT_VSPHERE_KEEP_ALIVE_MS;
    this.completeTimeoutMs = opts.completeTimeoutMs ?? 30 * 60_000;
    this.rest = new VcenterSession({
      origin: this.url,
      username: opts.username,
      password: opts.password,
      passwordSource: opts.passwordSource,
      insecure: opts.insecure,
      ca: opts.ca,
      requestTimeoutMs: opts.requestTimeoutMs ?? 60_000,
      logger: this.log,
    });
  }

  // ---- session ---------------------------------------------------------------------------

  /** Log in (again). VsphereAuthError when vCenter rejects the credentials. */
  login(): Promise<void> {
    return this.rest.login();
  }

  /** End the REST session on the server (best effort) and forget it. */
  logout(): Promise<void> {
    return this.rest.logout();
  }

  /** Make sure the session is valid right now (cheap GET; re-login on 401). */
  checkSession(): Promise<void> {
    return this.rest.checkSession();
  }

  /**
   * Any other vAPI JSON call on this client's session (subscriptions, deployments): one
   * re-login + retry on 401, errors mapped to VsphereError. Returns the vAPI `value`.
   */
  call<T>(operation: string, method: Method, path: string, opts: CallOptions = {}): Promise<T | undefined> {
    return this.rest.call<T>(operation, method, path, opts);
  }

  // ---- libraries -------------------------------------------------------------------------

  /** Ids of all libraries. */
  async listLibraries(): Promise<string[]> {
    return (await this.call<string[] | null>('list libraries', 'GET', P.library)) ?? [];
  }

  /** Id of the library with exactly this name, if any. */
  async findLibraryByName(name: string): Promise<string | undefined> {
    const ids =
      (await this.call<string[] | null>('find library', 'POST', P.library, {
        searchParams: { '~action': 'find' },
        json: { spec: { name } },
      })) ?? [];
    if (ids.length <= 1) return ids[0];
    // The server matches names case-insensitively: prefer the exact one.
    for (const id of ids) {
      const lib = await this.call<{ name?: string }>('get library', 'GET', `${P.library}/id:${id}`, {
        allow404: true,
      });
      if (lib?.name === name) return id;
    }
    return ids[0];
  }

  /**
   * Id of the library named `name`; created as a local library on `datastoreId` if missing,
   * published (no authentication) with `publish` so that subscribed libraries can follow it.
   */
  async ensureLibrary(name: string, datastoreId: string, opts: { publish?: boolean } = {}): Promise<string> {
    // Serialize per name within this client so concurrent callers do not create two.
    const pending = this.ensuring.get(name);
    if (pending) return pending;
    const p = (async () => {
      const found = await this.findLibraryByName(name);
      if (found !== undefined) return found;
      const id = await this.call<string>('create library', 'POST', P.localLibrary, {
        json: {
          client_token: randomUUID(),
          create_spec: {
            name,
            description: MANAGED_BY_FERRY,
            type: 'LOCAL',
            storage_backings: [{ type: 'DATASTORE', datastore_id: datastoreId }],
            ...(opts.publish ? { publish_info: { published: true, authentication_method: 'NONE' } } : {}),
          },
        },
      });
      if (typeof id !== 'string') throw new VsphereError('create library', 'no library id in the answer');
      this.log.info({ library: name, libraryId: id }, 'created content library');
      return id;
    })().finally(() => this.ensuring.delete(name));
    this.ensuring.set(name, p);
    return p;
  }

  // ---- items -----------------------------------------------------------------------------

  /** All items of a library with their details (ids, then GETs 16 at a time). */
  async listItems(libraryId: string): Promise<LibraryItemInfo[]> {
    const ids =
      (await this.call<string[] | null>('list items', 'GET', P.item, { searchParams: { library_id: libraryId } })) ??
      [];
    const items = await mapLimit(ids, LIST_CONCURRENCY, (id) => this.getItem(id));
    return items.filter((i): i is LibraryItemInfo => i !== undefined);
  }

  /** The item named exactly `name` in the library, if any (one find call, not a full listing). */
  async findItemByName(libraryId: string, name: string): Promise<LibraryItemInfo | undefined> {
    const ids =
      (await this.call<string[] | null>('find item', 'POST', P.item, {
        searchParams: { '~action': 'find' },
        json: { spec: { library_id: libraryId, name } },
      })) ?? [];
    for (const id of ids) {
      const item = await this.getItem(id);
      if (item?.name === name) return item;
    }
    return undefined;
  }

  async getItem(itemId: string): Promise<LibraryItemInfo | undefined> {
    const raw = await this.call<RawItem>('get item', 'GET', `${P.item}/id:${itemId}`, { allow404: true });
    return raw === undefined ? undefined : toItem(raw, itemId);
  }

  async createItem(libraryId: string, item: { name: string; description: string; type?: string }): Promise<string> {
    const id = await this.call<string>('create item', 'POST', P.item, {
      json: {
        client_token: randomUUID(),
        create_spec: {
          library_id: libraryId,
          name: item.name,
          description: item.description,
          type: item.type ?? 'ovf',
        },
      },
    });
    if (typeof id !== 'string') throw new VsphereError('create item', 'no item id in the answer');
    this.log.info({ item: item.name, itemId: id, libraryId }, 'created library item');
    return id;
  }

  async updateItem(itemId: string, patch: { description?: string }): Promise<void> {
    await this.call('update item', 'PATCH', `${P.item}/id:${itemId}`, { json: { update_spec: patch } });
  }

  /** Delete an item and its files; an item that is already gone is fine. */
  async deleteItem(itemId: string): Promise<void> {
    await this.call('delete item', 'DELETE', `${P.item}/id:${itemId}`, { allow404: true });
    this.log.info({ itemId }, 'deleted library item');
  }

  /** Files of an item. (vcsim lists a re-uploaded name twice; the last one wins here.) */
  async listFiles(itemId: string): Promise<LibraryFileInfo[]> {
    const raw =
      (await this.call<RawFile[] | null>('list files', 'GET', P.file, { searchParams: { library_item_id: itemId } })) ??
      [];
    const byName = new Map<string, LibraryFileInfo>();
    for (const f of raw) {
      if (typeof f.name !== 'string') continue;
      const info: LibraryFileInfo = { name: f.name, size: f.size ?? 0 };
      if (typeof f.cached === 'boolean') info.cached = f.cached;
      if (f.checksum_info?.checksum) {
        info.checksum = { algorithm: f.checksum_info.algorithm ?? 'SHA1', checksum: f.checksum_info.checksum };
      }
      byName.set(f.name, info);
    }
    return [...byName.values()];
  }

  /**
   * Stream one file of an item through a download session (prepare, wait until PREPARED,
   * GET). The download session is deleted when the stream ends or fails.
   */
  downloadFile(itemId: string, fileName: string): Promise<Readable> {
    return downloadFile(this.rest, itemId, fileName, this.log);
  }

  // ---- update sessions -------------------------------------------------------------------

  /** Open an update session on an item; keep-alive runs until complete/fail/cancel. */
  async openUpdateSession(itemId: string): Promise<UpdateSession> {
    const id = await this.call<string>('open update session', 'POST', P.updateSession, {
      json: { client_token: randomUUID(), create_spec: { library_item_id: itemId } },
    });
    if (typeof id !== 'string') throw new VsphereError('open update session', 'no session id in the answer');
    this.log.debug({ itemId }, 'opened update session');
    return this.updateSession(id, itemId);
  }

  /**
   * Ids of update sessions the server lists. vCenter (and vcsim) keep finished sessions
   * (DONE/ERROR/CANCELED) around for a while; `activeOnly` keeps only ACTIVE ones (one GET each).
   * UpdateSession deletes its session once it is finished, so normally both agree.
   */
  async listUpdateSessions(opts: { activeOnly?: boolean } = {}): Promise<string[]> {
    const ids = (await this.call<string[] | null>('list update sessions', 'GET', P.updateSession)) ?? [];
    if (!opts.activeOnly) return ids;
    const infos = await mapLimit(ids, LIST_CONCURRENCY, (id) => this.getUpdateSession(id));
    return infos.filter((s) => s?.state === 'ACTIVE').map((s) => s!.id);
  }

  /** Fails every ACTIVE update session on this item (left behind by a crashed run); returns how many. */
  async failOpenSessions(itemId: string, message: string): Promise<number> {
    const ids = (await this.call<string[] | null>('list update sessions', 'GET', P.updateSession)) ?? [];
    const infos = await mapLimit(ids, LIST_CONCURRENCY, (id) => this.getUpdateSession(id));
    let failed = 0;
    for (const info of infos) {
      if (info?.libraryItemId !== itemId || info.state !== 'ACTIVE') continue;
      await this.updateSession(info.id, itemId).fail(message);
      failed++;
    }
    if (failed) this.log.info({ itemId, failed }, 'failed update sessions left open by an earlier run');
    return failed;
  }

  getUpdateSession(id: string): Promise<UpdateSessionInfo | undefined> {
    return getUpdateSession(this.rest, id);
  }

  private updateSession(id: string, itemId: string): UpdateSession {
    return new UpdateSession(this.rest, id, itemId, this.log.child({ itemId }), {
      keepAliveMs: this.keepAliveMs,
      completeTimeoutMs: this.completeTimeoutMs,
    });
  }
}
