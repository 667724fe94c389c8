/**
 * REST client for the vSphere Content Library API (`/rest/com/vmware/...`, the API vCenter
 * 6.5+ serves and govmomi's vcsim simulates), built on got.
 *
 * Sessions: a login (`POST /rest/com/vmware/cis/session`, Basic auth) yields a session id sent
 * as `vmware-api-session-id`. Any 401 on a replayable call (JSON bodies) triggers one re-login
 * and one retry. While an update session is open, a keep-alive timer checks the REST session
 * (re-login on 401) and extends the update session, so hours-long uploads survive.
 *
 * Upload URLs (`.../cis/data/<file id>/<name>` in vcsim) need the session header too: vcsim
 * authorizes them like every other /rest call, but only when the request starts, so a session
 * that expires mid-upload does not break the transfer. The client checks the session right
 * before each PUT (a streamed body cannot be replayed after a 401).
 */
import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import { type Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DEFAULT_VSPHERE_KEEP_ALIVE_MS,
  isRetryableCode,
  isRetryableStatus,
  type Logger,
  mapLimit,
  silentLogger,
} from '@ferry/shared';
import { type Got, got, type Method, RequestError, type Response } from 'got';
import type {
  ContentLibrary,
  LibraryFileInfo,
  LibraryItemInfo,
  LibraryUpdateSession,
  UpdateSessionFileInfo,
  UpdateSessionInfo,
} from './content-library.js';
import { UpdateSessionError, VsphereAuthError, VsphereError } from './errors.js';
import { pollUntil } from './poll.js';

export interface ContentLibraryClientOptions {
  /** vCenter base URL, e.g. https://vcenter.dc1.example (any path is ignored). */
  url: string;
  username: string;
  password: string;
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

const REST = '/rest/com/vmware';
const P = {
  session: `${REST}/cis/session`,
  library: `${REST}/content/library`,
  localLibrary: `${REST}/content/local-library`,
  item: `${REST}/content/library/item`,
  file: `${REST}/content/library/item/file`,
  updateSession: `${REST}/content/library/item/update-session`,
  updateSessionFile: `${REST}/content/library/item/updatesession/file`,
  downloadSession: `${REST}/content/library/item/download-session`,
  downloadSessionFile: `${REST}/content/library/item/downloadsession/file`,
} as const;

/** Description of the libraries ferry creates: what ferry may replace or delete. */
export const MANAGED_BY_FERRY = 'Managed by ferry';

const SESSION_HEADER = 'vmware-api-session-id';
const LIST_CONCURRENCY = 16;

interface CallOptions {
  json?: unknown;
  searchParams?: Record<string, string>;
  /** Answer undefined instead of throwing on 404. */
  allow404?: boolean;
  /** Request timeout override (ms). */
  timeoutMs?: number;
}

interface RawFile {
  name?: string;
  size?: number;
  cached?: boolean;
  checksum_info?: { algorithm?: string; checksum?: string };
}

interface RawItem {
  id?: string;
  name?: string;
  description?: string;
  type?: string;
  content_version?: string;
  size?: number;
  creation_time?: string;
  last_modified_time?: string;
  source_id?: string;
}

interface RawSession {
  id?: string;
  library_item_id?: string;
  state?: string;
  error_message?: { default_message?: string; id?: string };
}

interface RawTransferFile {
  name?: string;
  status?: string;
  upload_endpoint?: { uri?: string };
  bytes_transferred?: number;
  download_endpoint?: { uri?: string };
  error_message?: { default_message?: string };
}

export class ContentLibraryClient implements ContentLibrary {
  readonly url: string;
  private readonly username: string;
  private readonly password: string;
  private readonly log: Logger;
  private readonly http: Got;
  private readonly requestTimeoutMs: number;
  /** @internal used by UpdateSession */
  readonly keepAliveMs: number;
  /** @internal used by UpdateSession */
  readonly completeTimeoutMs: number;
  private sessionId: string | undefined;
  private loginInFlight: Promise<string> | undefined;
  private readonly ensuring = new Map<string, Promise<string>>();

  constructor(opts: ContentLibraryClientOptions) {
    const base = new URL(opts.url);
    this.url = base.origin;
    this.username = opts.username;
    this.password = opts.password;
    this.log = (opts.logger ?? silentLogger()).child({ component: 'content-library', vcenter: this.url });
    this.keepAliveMs = opts.keepAliveMs ?? DEFAULT_VSPHERE_KEEP_ALIVE_MS;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? 60_000;
    this.completeTimeoutMs = opts.completeTimeoutMs ?? 30 * 60_000;
    this.http = got.extend({
      throwHttpErrors: false,
      retry: { limit: 0 },
      followRedirect: false,
      https: {
        rejectUnauthorized: !opts.insecure,
        ...(opts.ca === undefined ? {} : { certificateAuthority: opts.ca }),
      },
    });
  }

  // ---- session ---------------------------------------------------------------------------

  /** Log in (again). VsphereAuthError when vCenter rejects the credentials. */
  async login(): Promise<void> {
    await this.freshLogin();
  }

  /** End the REST session on the server (best effort) and forget it. */
  async logout(): Promise<void> {
    const sid = this.sessionId;
    this.sessionId = undefined;
    if (sid === undefined) return;
    try {
      await this.http(this.abs(P.session), {
        method: 'DELETE',
        headers: { [SESSION_HEADER]: sid },
        timeout: { request: this.requestTimeoutMs },
      });
      this.log.debug('logged out of vCenter');
    } catch (err) {
      this.log.warn({ err: errInfo(err) }, 'vCenter logout failed (ignored)');
    }
  }

  private freshLogin(): Promise<string> {
    if (!this.loginInFlight) {
      this.loginInFlight = this.doLogin().finally(() => {
        this.loginInFlight = undefined;
      });
    }
    return this.loginInFlight;
  }

  private async doLogin(): Promise<string> {
    const auth = Buffer.from(`${this.username}:${this.password}`).toString('base64');
    let res: Response<string>;
    try {
      res = await this.http(this.abs(P.session), {
        method: 'POST',
        headers: { authorization: `Basic ${auth}`, 'vmware-use-header-authn': 'true' },
        timeout: { request: this.requestTimeoutMs },
      });
    } catch (err) {
      throw this.wrap('login', err);
    }
    if (res.statusCode === 401 || res.statusCode === 403) {
      this.sessionId = undefined;
      throw new VsphereAuthError(this.url, this.username, { status: res.statusCode });
    }
    if (res.statusCode >= 300) throw this.httpError('login', res);
    const sid = parseValue(res.body);
    if (typeof sid !== 'string' || sid === '') {
      throw new VsphereError('login', 'vCenter answered the login without a session id', { retryable: false });
    }
    this.sessionId = sid;
    this.log.info({ user: this.username }, 'logged in to vCenter');
    return sid;
  }

  /** The current session id, logging in first when there is none. */
  private async session(): Promise<string> {
    if (this.sessionId !== undefined) return this.sessionId;
    return this.freshLogin();
  }

  /** After a 401 with session `failed`: log in again unless someone already did. */
  private async relogin(failed: string): Promise<string> {
    if (this.sessionId !== undefined && this.sessionId !== failed) return this.sessionId;
    this.sessionId = undefined;
    this.log.info('vCenter session expired or was deleted, logging in again');
    return this.freshLogin();
  }

  /** Make sure the session is valid right now (cheap GET; re-login on 401). */
  async checkSession(): Promise<void> {
    await this.call('check session', 'GET', P.session);
  }

  // ---- core call -------------------------------------------------------------------------

  /**
   * One JSON call: session header, one re-login + retry on 401, errors mapped to VsphereError.
   * Returns the vAPI `value` (undefined for an empty body, or for 404 with allow404).
   * @internal used by UpdateSession
   */
  async call<T>(operation: string, method: Method, path: string, opts: CallOptions = {}): Promise<T | undefined> {
    let sid = await this.session();
    for (let attempt = 0; ; attempt++) {
      let res: Response<string>;
      try {
        res = await this.http(this.abs(path), {
          method,
          headers: { [SESSION_HEADER]: sid },
          ...(opts.json === undefined ? {} : { json: opts.json }),
          ...(opts.searchParams === undefined ? {} : { searchParams: opts.searchParams }),
          timeout: { request: opts.timeoutMs ?? this.requestTimeoutMs },
          // GETs are idempotent: let got retry network errors (resets, timeouts) twice.
          ...(method === 'GET' ? { retry: { limit: 2 } } : {}),
        });
      } catch (err) {
        throw this.wrap(operation, err);
      }
      if (res.statusCode === 401 && attempt === 0) {
        sid = await this.relogin(sid);
        continue;
      }
      if (res.statusCode === 404 && opts.allow404) return undefined;
      if (res.statusCode >= 300) throw this.httpError(operation, res);
      return parseValue(res.body) as T | undefined;
    }
  }

  private abs(path: string): string {
    return this.url + path;
  }

  /** @internal */
  wrap(operation: string, err: unknown): VsphereError {
    if (err instanceof VsphereError) return err;
    const code = (err as { code?: string }).code;
    if (err instanceof RequestError || code !== undefined) {
      const status = err instanceof RequestError ? err.response?.statusCode : undefined;
      const tls = typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code);
      const hint = tls ? " (set vsphere.caFile to vCenter's CA, or vsphere.insecure: true for a lab)" : '';
      return new VsphereError(operation, `${(err as Error).message}${hint}`, {
        cause: err,
        ...(status === undefined ? {} : { status }),
        // No code and no status: got failed before any answer (a network fault of its own).
        retryable:
          !tls && (status === undefined ? code === undefined || isRetryableCode(code) : isRetryableStatus(status)),
        ...(code === 'ETIMEDOUT' ? { code: 'VSPHERE_TIMEOUT' } : {}),
      });
    }
    return new VsphereError(operation, err instanceof Error ? err.message : String(err), {
      cause: err,
      retryable: false,
    });
  }

  /** @internal */
  httpError(operation: string, res: { statusCode: number; body: string }): VsphereError {
    const { type, message } = parseVapiError(res.body);
    const detail = message ?? type ?? (res.body.trim().slice(0, 200) || 'no details');
    return new VsphereError(operation, `HTTP ${res.statusCode}: ${detail}`, {
      status: res.statusCode,
      ...(type === undefined ? {} : { errorType: type }),
      ...(type?.endsWith('.already_exists') ? { code: 'VSPHERE_ALREADY_EXISTS' } : {}),
      ...(res.statusCode === 404 ? { code: 'VSPHERE_NOT_FOUND' } : {}),
      ...(res.statusCode === 401 ? { code: 'VSPHERE_UNAUTHENTICATED', retryable: true } : {}),
      // 429 and 5xx may pass, a 401 after a re-login too; everything else is a client or data problem.
      retryable: isRetryableStatus(res.statusCode) || res.statusCode === 401,
    });
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

  // ---- update sessions -------------------------------------------------------------------

  /** Open an update session on an item; keep-alive runs until complete/fail/cancel. */
  async openUpdateSession(itemId: string): Promise<UpdateSession> {
    const id = await this.call<string>('open update session', 'POST', P.updateSession, {
      json: { client_token: randomUUID(), create_spec: { library_item_id: itemId } },
    });
    if (typeof id !== 'string') throw new VsphereError('open update session', 'no session id in the answer');
    this.log.debug({ itemId }, 'opened update session');
    return new UpdateSession(this, id, itemId, this.log.child({ itemId }));
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
      await new UpdateSession(this, info.id, itemId, this.log.child({ itemId })).fail(message);
      failed++;
    }
    if (failed) this.log.info({ itemId, failed }, 'failed update sessions left open by an earlier run');
    return failed;
  }

  async getUpdateSession(id: string): Promise<UpdateSessionInfo | undefined> {
    const raw = await this.call<RawSession>('get update session', 'GET', `${P.updateSession}/id:${id}`, {
      allow404: true,
    });
    if (raw === undefined) return undefined;
    const info: UpdateSessionInfo = { id, libraryItemId: raw.library_item_id ?? '', state: raw.state ?? 'UNKNOWN' };
    const msg = raw.error_message?.default_message;
    if (msg) info.errorMessage = msg;
    return info;
  }

  // ---- downloads -------------------------------------------------------------------------

  /**
   * Stream one file of an item through a download session (prepare, wait until PREPARED,
   * GET). The download session is deleted when the stream ends or fails.
   */
  async downloadFile(itemId: string, fileName: string): Promise<Readable> {
    const op = 'download file';
    const sessionId = await this.call<string>('open download session', 'POST', P.downloadSession, {
      json: { client_token: randomUUID(), create_spec: { library_item_id: itemId } },
    });
    if (typeof sessionId !== 'string') throw new VsphereError(op, 'no download session id in the answer');
    const cleanup = () =>
      this.call('delete download session', 'DELETE', `${P.downloadSession}/id:${sessionId}`, { allow404: true }).catch(
        (err) => this.log.warn({ err: errInfo(err) }, 'could not delete download session (ignored)'),
      );
    try {
      const filePath = `${P.downloadSessionFile}/id:${sessionId}`;
      let info = await this.call<RawTransferFile>('prepare download', 'POST', filePath, {
        searchParams: { '~action': 'prepare' },
        json: { file_name: fileName, encryption_method: 'NONE' },
      });
      const deadline = Date.now() + this.requestTimeoutMs * 10;
      while (info?.status !== 'PREPARED') {
        if (info?.status === 'ERROR') {
          throw new VsphereError(op, `vCenter could not prepare ${fileName}: ${info.error_message?.default_message}`);
        }
        if (Date.now() > deadline) throw new VsphereError(op, `${fileName} was not prepared in time`);
        await sleep(250);
        info = await this.call<RawTransferFile>('get download file', 'POST', filePath, {
          searchParams: { '~action': 'get' },
          json: { file_name: fileName },
        });
      }
      const uri = info.download_endpoint?.uri;
      if (!uri) throw new VsphereError(op, `no download URL for ${fileName}`, { retryable: false });

      const sid = await this.session();
      const stream = this.http.stream(uri, {
        headers: { [SESSION_HEADER]: sid },
        timeout: { socket: this.requestTimeoutMs },
      });
      let res: IncomingMessage;
      try {
        [res] = (await once(stream, 'response')) as [IncomingMessage];
      } catch (err) {
        throw this.wrap(op, err);
      }
      if (res.statusCode === undefined || res.statusCode >= 300) {
        const body = await readText(stream);
        throw this.httpError(op, { statusCode: res.statusCode ?? 0, body });
      }
      let cleaned = false;
      const done = () => {
        if (cleaned) return;
        cleaned = true;
        void cleanup();
      };
      stream.once('end', done);
      stream.once('close', done);
      stream.once('error', done);
      return stream;
    } catch (err) {
      await cleanup();
      throw err;
    }
  }

  /** @internal streaming PUT for UpdateSession.upload */
  async put(uploadUrl: string, body: Readable, size: number, onProgress?: (bytes: number) => void): Promise<void> {
    const op = 'upload';
    // The body cannot be replayed after a 401: make sure the session is good right now.
    await this.checkSession();
    const sid = await this.session();
    let sent = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        sent += chunk.length;
        if (sent > size) {
          cb(new VsphereError(op, `body is longer than the announced ${size} bytes`, { retryable: false }));
          return;
        }
        onProgress?.(sent);
        cb(null, chunk);
      },
      flush(cb) {
        if (sent !== size) {
          cb(new VsphereError(op, `body ended after ${sent} of ${size} bytes`, { retryable: false }));
          return;
        }
        cb();
      },
    });
    const request = this.http.stream.put(uploadUrl, {
      headers: {
        [SESSION_HEADER]: sid,
        'content-type': 'application/octet-stream',
        'content-length': String(size),
      },
      timeout: { socket: this.requestTimeoutMs },
    });
    let status = 0;
    let answer = '';
    request.once('response', (res: IncomingMessage) => {
      status = res.statusCode ?? 0;
    });
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        if (answer.length < 4096) answer += chunk.toString('utf8');
        cb();
      },
    });
    try {
      await pipeline(body, counter, request, sink);
    } catch (err) {
      // An early error answer (e.g. 401 before the body was read) surfaces as a reset.
      if (status >= 300) throw this.httpError(op, { statusCode: status, body: answer });
      throw this.wrap(op, err);
    }
    if (status >= 300 || status === 0) throw this.httpError(op, { statusCode: status, body: answer });
  }
}

/** One update session of a library item (PUSH uploads). */
export class UpdateSession implements LibraryUpdateSession {
  private timer: NodeJS.Timeout | undefined;
  private keepAliveRunning = false;
  private finished = false;
  /** file name -> uploaded? (client-side view, cross-checked by validate()) */
  private readonly files = new Map<string, boolean>();
  /** upload URL -> file name */
  private readonly urls = new Map<string, string>();

  constructor(
    private readonly client: ContentLibraryClient,
    readonly id: string,
    readonly itemId: string,
    private readonly log: Logger,
  ) {
    if (client.keepAliveMs > 0) {
      this.timer = setInterval(() => void this.keepAlive(), client.keepAliveMs);
      this.timer.unref();
    }
  }

  private get path(): string {
    return `${P.updateSession}/id:${this.id}`;
  }

  /** Announce a file to PUSH; returns its upload URL. */
  async addFile(file: {
    name: string;
    size: number;
    checksum?: { algorithm: 'SHA256' | 'SHA1'; checksum: string };
  }): Promise<string> {
    const spec: Record<string, unknown> = { name: file.name, source_type: 'PUSH', size: file.size };
    if (file.checksum) spec['checksum_info'] = { algorithm: file.checksum.algorithm, checksum: file.checksum.checksum };
    const info = await this.client.call<RawTransferFile>('add file', 'POST', `${P.updateSessionFile}/id:${this.id}`, {
      searchParams: { '~action': 'add' },
      json: { file_spec: spec },
    });
    const uri = info?.upload_endpoint?.uri;
    if (!uri) throw new UpdateSessionError(this.id, 'add file', `no upload URL for ${file.name}`);
    this.files.set(file.name, false);
    this.urls.set(uri, file.name);
    return uri;
  }

  /**
   * Announce a file that vCenter GETs itself (PULL) from `uri`, over TLS whose certificate has
   * this SHA-1 thumbprint, and checks against `sha256`. Wait with `waitForTransfers()`.
   */
  async addPullFile(file: {
    name: string;
    size: number;
    sha256: string;
    uri: string;
    thumbprint: string;
  }): Promise<void> {
    await this.client.call('add file', 'POST', `${P.updateSessionFile}/id:${this.id}`, {
      searchParams: { '~action': 'add' },
      json: {
        file_spec: {
          name: file.name,
          source_type: 'PULL',
          size: file.size,
          source_endpoint: { uri: file.uri, ssl_certificate_thumbprint: file.thumbprint },
          checksum_info: { algorithm: 'SHA256', checksum: file.sha256 },
        },
      },
    });
    // vCenter moves the bytes; validate() must not count the file as missing on our side.
    this.files.set(file.name, true);
  }

  /** Files of this session as vCenter reports them (status, bytes transferred, error). */
  async listFiles(): Promise<UpdateSessionFileInfo[]> {
    const raw =
      (await this.client.call<RawTransferFile[] | null>('list session files', 'GET', P.updateSessionFile, {
        searchParams: { update_session_id: this.id },
      })) ?? [];
    return raw.map((f) => ({
      name: f.name ?? '',
      status: f.status ?? 'UNKNOWN',
      bytesTransferred: f.bytes_transferred ?? 0,
      ...(f.error_message?.default_message ? { errorMessage: f.error_message.default_message } : {}),
    }));
  }

  /**
   * Wait until vCenter has transferred every named file (status READY). UpdateSessionError when
   * a file or the session ends in ERROR, or the time is up.
   */
  async waitForTransfers(names: readonly string[], timeoutMs: number): Promise<void> {
    await pollUntil(
      async () => {
        const session = await this.client.getUpdateSession(this.id);
        if (session === undefined || (session.state !== 'ACTIVE' && session.state !== 'DONE')) {
          throw new UpdateSessionError(
            this.id,
            'transfer',
            session?.errorMessage ?? `the update session ended in state ${session?.state ?? 'DELETED'}`,
            { retryable: true },
          );
        }
        const byName = new Map((await this.listFiles()).map((f) => [f.name, f]));
        for (const name of names) {
          const f = byName.get(name);
          if (f?.status === 'ERROR') {
            throw new UpdateSessionError(this.id, 'transfer', `${name}: ${f.errorMessage ?? 'transfer failed'}`, {
              retryable: true,
            });
          }
          if (f?.status !== 'READY') return undefined;
        }
        return true;
      },
      {
        timeoutMs,
        onTimeout: () =>
          new UpdateSessionError(this.id, 'transfer', `vCenter did not transfer ${names.join(', ')} in time`, {
            retryable: true,
          }),
      },
    );
  }

  /** Streaming PUT of one file (never buffered); `size` is sent as Content-Length and enforced. */
  async upload(uploadUrl: string, body: Readable, size: number, onProgress?: (bytes: number) => void): Promise<void> {
    const name = this.urls.get(uploadUrl);
    const started = Date.now();
    await this.client.put(uploadUrl, body, size, onProgress);
    if (name !== undefined) this.files.set(name, true);
    const secs = (Date.now() - started) / 1000;
    this.log.debug(
      { file: name, bytes: size, mibPerSec: Math.round(size / 1048576 / Math.max(secs, 0.001)) },
      'uploaded',
    );
  }

  /**
   * Ask the server to validate the session; throws UpdateSessionError when files are missing
   * or invalid. vcsim 0.24 answers validate with an empty 200, so files this client announced
   * but did not upload successfully also count as missing.
   */
  async validate(): Promise<{ missingFiles: string[]; invalidFiles: string[] }> {
    const res = await this.client.call<{
      has_errors?: boolean;
      missing_files?: string[];
      invalid_files?: { name?: string; error_message?: { default_message?: string } }[];
    }>('validate', 'POST', `${P.updateSessionFile}/id:${this.id}`, { searchParams: { '~action': 'validate' } });
    const missing = new Set(res?.missing_files ?? []);
    for (const [name, uploaded] of this.files) if (!uploaded) missing.add(name);
    const invalid = (res?.invalid_files ?? []).map(
      (f) => `${f.name ?? '?'}${f.error_message?.default_message ? ` (${f.error_message.default_message})` : ''}`,
    );
    const result = { missingFiles: [...missing], invalidFiles: invalid };
    if (result.missingFiles.length > 0 || result.invalidFiles.length > 0 || res?.has_errors) {
      const parts = [];
      if (result.missingFiles.length) parts.push(`missing files: ${result.missingFiles.join(', ')}`);
      if (result.invalidFiles.length) parts.push(`invalid files: ${result.invalidFiles.join(', ')}`);
      throw new UpdateSessionError(this.id, 'validate', parts.join('; ') || 'validation reported errors', {
        missingFiles: result.missingFiles,
        invalidFiles: invalid,
      });
    }
    return result;
  }

  /** Complete the session and wait until it is DONE (UpdateSessionError on ERROR/CANCELED). */
  async complete(): Promise<void> {
    try {
      await this.client.call('complete', 'POST', this.path, { searchParams: { '~action': 'complete' } });
      await pollUntil(
        async () => {
          const info = await this.client.getUpdateSession(this.id);
          if (info === undefined) {
            throw new UpdateSessionError(this.id, 'complete', 'the update session disappeared before it was DONE', {
              retryable: true,
            });
          }
          if (info.state === 'DONE') return true;
          if (info.state !== 'ACTIVE') {
            throw new UpdateSessionError(
              this.id,
              'complete',
              info.errorMessage ?? `the update session ended in state ${info.state}`,
              { retryable: true },
            );
          }
          return undefined;
        },
        {
          timeoutMs: this.client.completeTimeoutMs,
          onTimeout: () =>
            new UpdateSessionError(this.id, 'complete', 'the update session did not finish in time', {
              retryable: true,
            }),
        },
      );
      this.log.info('update session completed');
    } catch (err) {
      this.stop();
      if (err instanceof UpdateSessionError) {
        await this.remove();
        throw err;
      }
      const e = err instanceof VsphereError ? err : this.client.wrap('complete', err);
      throw new UpdateSessionError(this.id, 'complete', e.message, { cause: e, retryable: e.retryable });
    }
    this.stop();
    await this.remove();
  }

  /** Mark the session failed with a message for vCenter's logs; best effort, never throws. */
  async fail(message: string): Promise<void> {
    this.stop();
    try {
      await this.client.call('fail', 'POST', this.path, {
        searchParams: { '~action': 'fail' },
        json: { client_error_message: message },
        allow404: true,
      });
    } catch (err) {
      this.log.warn({ err: errInfo(err) }, 'could not fail the update session (ignored)');
    }
    await this.remove();
  }

  /** Cancel the session; best effort, never throws. */
  async cancel(): Promise<void> {
    this.stop();
    try {
      await this.client.call('cancel', 'POST', this.path, { searchParams: { '~action': 'cancel' }, allow404: true });
    } catch (err) {
      this.log.warn({ err: errInfo(err) }, 'could not cancel the update session (ignored)');
    }
    await this.remove();
  }

  /** Delete the finished session so it no longer shows in listings. */
  private async remove(): Promise<void> {
    try {
      await this.client.call('delete update session', 'DELETE', this.path, { allow404: true });
    } catch (err) {
      this.log.debug({ err: errInfo(err) }, 'could not delete the update session (ignored)');
    }
  }

  private stop(): void {
    this.finished = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Keep the REST session (re-login on 401) and the update session alive. */
  private async keepAlive(): Promise<void> {
    if (this.keepAliveRunning || this.finished) return;
    this.keepAliveRunning = true;
    try {
      await this.client.checkSession();
      if (!this.finished) {
        await this.client.call('keep-alive', 'POST', this.path, { searchParams: { '~action': 'keep-alive' } });
      }
      this.log.debug('update session kept alive');
    } catch (err) {
      this.log.warn({ err: errInfo(err) }, 'keep-alive failed (will try again)');
    } finally {
      this.keepAliveRunning = false;
    }
  }
}

// ---- helpers -----------------------------------------------------------------------------

function parseValue(body: string): unknown {
  if (body.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    throw new VsphereError('parse', `vCenter answered with invalid JSON: ${body.slice(0, 120)}`, {
      cause: err,
      retryable: false,
    });
  }
  if (parsed !== null && typeof parsed === 'object' && 'value' in parsed) return (parsed as { value: unknown }).value;
  return parsed;
}

function parseVapiError(body: string): { type?: string; message?: string } {
  try {
    const e = JSON.parse(body) as {
      type?: string;
      value?: { messages?: { default_message?: string }[] };
      error_type?: string;
      messages?: { default_message?: string }[];
    };
    const type = e.type ?? e.error_type;
    const messages = (e.value?.messages ?? e.messages ?? []).map((m) => m.default_message).filter(Boolean);
    return {
      ...(type ? { type } : {}),
      ...(messages.length ? { message: `${messages.join('; ')}${type ? ` (${type})` : ''}` } : {}),
    };
  } catch {
    return {};
  }
}

function toItem(raw: RawItem, id: string): LibraryItemInfo {
  const item: LibraryItemInfo = { id: raw.id ?? id, name: raw.name ?? '', description: raw.description ?? '' };
  if (raw.type) item.type = raw.type;
  if (raw.content_version) item.contentVersion = raw.content_version;
  if (typeof raw.size === 'number') item.size = raw.size;
  if (raw.creation_time) item.creationTime = raw.creation_time;
  if (raw.last_modified_time) item.lastModifiedTime = raw.last_modified_time;
  if (raw.source_id) item.sourceId = raw.source_id;
  return item;
}

async function readText(stream: Readable): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    if (text.length < 4096) text += String(chunk);
  }
  return text;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function errInfo(err: unknown): { code?: string; message: string } {
  if (err instanceof VsphereError) return { code: err.code, message: err.message };
  return { message: err instanceof Error ? err.message : String(err) };
}
