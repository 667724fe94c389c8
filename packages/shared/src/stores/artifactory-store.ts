import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import got, { type Got, type Response } from 'got';
import { NotFoundError, StoreError } from '../errors.js';
import { type Logger, silentLogger } from '../logger.js';
import type { ByteRange, HttpGetPlan, ObjectInfo, ObjectStore, PutOptions } from '../object-store.js';
import { isRetryableStatus } from '../retry-policy.js';
import type { HttpGetError } from './http-get.js';
import { guardStream, isHostNotFound, networkErrorCode, redact, safeCause } from './store-errors.js';
import { normalizeStorePath, normalizeStorePrefix, rangeHeader } from './store-path.js';

export interface ArtifactoryStoreOptions {
  /** Base URL of Artifactory, e.g. `https://artifactory.example/artifactory`. */
  url: string;
  /** A generic repository (local or remote/replica). */
  repo: string;
  /** Access token, sent as `Authorization: Bearer`. */
  token?: string;
  /** Legacy API key, sent as `X-JFrog-Art-Api` (used when no token is given). */
  apiKey?: string;
  /** PEM file with the CA(s) that signed Artifactory's certificate. */
  caFile?: string;
  /** Skip TLS certificate verification (test set-ups only). */
  insecure?: boolean;
  logger?: Logger;
}

/** File Info (`GET /api/storage/{repo}/{path}`), the fields ferry reads. */
interface StorageInfo {
  size?: string | number;
  lastModified?: string;
  checksums?: { sha1?: string; sha256?: string; md5?: string };
  children?: unknown[];
}

/** File List (`?list&deep=1&listFolders=0`), the fields ferry reads. */
interface FileList {
  files?: Array<{ uri: string; size?: number | string; lastModified?: string; folder?: boolean; sha2?: string }>;
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

/** A generic Artifactory repository through its REST API (got, no retries of its own). */
export class ArtifactoryStore implements ObjectStore {
  readonly description: string;
  private readonly base: string;
  private readonly repo: string;
  private readonly http: Got;
  private readonly logger: Logger;
  private readonly secrets: Array<string | undefined>;
  private readonly auth: Record<string, string>;
  private readonly tls: { ca?: Buffer; rejectUnauthorized: boolean };

  constructor(options: ArtifactoryStoreOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.repo = options.repo;
    const u = new URL(this.base);
    this.description = `artifactory://${u.host}${u.pathname.replace(/\/+$/, '')}/${options.repo}`;
    this.logger = (options.logger ?? silentLogger()).child({ store: 'artifactory' });
    this.secrets = [options.token, options.apiKey];
    const headers: Record<string, string> = {};
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    else if (options.apiKey) headers['x-jfrog-art-api'] = options.apiKey;
    this.auth = headers;
    this.tls = {
      ...(options.caFile ? { ca: readFileSync(options.caFile) } : {}),
      rejectUnauthorized: !options.insecure,
    };
    this.http = got.extend({
      headers,
      // The caller retries with backoff; got's own retries would multiply that.
      retry: { limit: 0 },
      throwHttpErrors: false,
      // Byte ranges and sizes are of the stored bytes: never let a proxy compress them.
      decompress: false,
      timeout: { connect: 10_000, response: 60_000, socket: 300_000 },
      https: { certificateAuthority: this.tls.ca, rejectUnauthorized: this.tls.rejectUnauthorized },
    });
  }

  private contentUrl(path: string): string {
    return `${this.base}/${encodeURIComponent(this.repo)}/${encodePath(path)}`;
  }

  private storageUrl(path: string): string {
    const p = path ? `/${encodePath(path)}` : '';
    return `${this.base}/api/storage/${encodeURIComponent(this.repo)}${p}`;
  }

  async head(path: string): Promise<ObjectInfo | undefined> {
    const p = normalizeStorePath(path);
    const res = await this.send('head', p, (http) => http.get(this.storageUrl(p)));
    if (res.statusCode === 404) return undefined;
    if (res.statusCode !== 200) throw this.httpError(res.statusCode, 'head', p);
    const info = this.parse<StorageInfo>(res.body, 'head', p);
    if (Array.isArray(info.children) || info.size === undefined) return undefined; // a folder
    return {
      path: p,
      size: Number(info.size),
      sha256: info.checksums?.sha256 || undefined,
      lastModified: info.lastModified ? new Date(info.lastModified) : undefined,
    };
  }

  async get(path: string, range?: ByteRange): Promise<Readable> {
    const p = normalizeStorePath(path);
    const headers: Record<string, string> = {};
    if (range) headers.range = rangeHeader(range);
    const stream = this.http.stream(this.contentUrl(p), { headers });
    const status = await new Promise<number>((resolve, reject) => {
      stream.once('response', (res: { statusCode: number }) => resolve(res.statusCode));
      stream.once('error', reject);
    }).catch((err: unknown) => {
      stream.destroy();
      throw this.mapError(err, 'get', p);
    });
    const ok = range ? status === 206 : status === 200;
    if (!ok) {
      stream.destroy();
      if (range && status === 200) {
        throw new StoreError(this.description, 'get', p, 'the server ignored the Range header (HTTP 200, not 206)', {
          status,
          retryable: false,
        });
      }
      throw this.httpError(status, 'get', p);
    }
    this.logger.debug({ path: p, range: headers.range }, 'get');
    return guardStream(stream, (e) => this.mapError(e, 'get', p));
  }

  async httpGet(path: string, range?: ByteRange): Promise<HttpGetPlan> {
    const p = normalizeStorePath(path);
    return {
      request: {
        url: new URL(this.contentUrl(p)),
        headers: { ...this.auth, ...(range ? { range: rangeHeader(range) } : {}) },
        ...this.tls,
      },
      fail: (err: HttpGetError) => {
        const { status } = err.details;
        if (status === undefined) return this.mapError(err, 'get', p);
        if (status < 300) return new StoreError(this.description, 'get', p, err.message, { status, retryable: false });
        return this.httpError(status, 'get', p);
      },
    };
  }

  async put(path: string, body: Readable, options: PutOptions = {}): Promise<void> {
    const p = normalizeStorePath(path);
    const headers: Record<string, string> = { 'content-type': options.contentType ?? 'application/octet-stream' };
    if (options.size !== undefined) headers['content-length'] = String(options.size);
    if (options.sha256) headers['x-checksum-sha256'] = options.sha256;
    const res = await this.send('put', p, (http) => http.put(this.contentUrl(p), { body, headers }));
    if (res.statusCode === 409 && options.sha256) {
      throw new StoreError(
        this.description,
        'put',
        p,
        'Artifactory rejected the upload: the bytes do not match the sha256 sent with them (HTTP 409)',
        { status: 409, retryable: false },
      );
    }
    if (res.statusCode !== 201 && res.statusCode !== 200) throw this.httpError(res.statusCode, 'put', p);
    this.logger.debug({ path: p, size: options.size }, 'put');
  }

  async probe(): Promise<void> {
    // The repository's storage info: 404 when the repository does not exist.
    const res = await this.send('probe', '/', (http) => http.get(this.storageUrl('')));
    if (res.statusCode === 404) {
      throw new StoreError(
        this.description,
        'probe',
        '/',
        `repository ${this.repo} does not exist: create it or fix store.repo`,
        { status: 404, retryable: false },
      );
    }
    if (res.statusCode !== 200) throw this.httpError(res.statusCode, 'probe', '/');
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const pre = normalizeStorePrefix(prefix);
    // The File List API lists a folder: list the folder the prefix lies in, filter by prefix.
    const folder = pre.includes('/') ? pre.slice(0, pre.lastIndexOf('/')) : '';
    const res = await this.send('list', pre || '/', (http) =>
      http.get(`${this.storageUrl(folder)}?list&deep=1&listFolders=0`),
    );
    if (res.statusCode === 404) return;
    if (res.statusCode !== 200) throw this.httpError(res.statusCode, 'list', pre || '/');
    const list = this.parse<FileList>(res.body, 'list', pre || '/');
    for (const f of list.files ?? []) {
      if (f.folder) continue;
      const path = (folder ? `${folder}${f.uri}` : f.uri.replace(/^\/+/, '')).replace(/^\/+/, '');
      if (!path.startsWith(pre)) continue;
      yield {
        path,
        size: Number(f.size ?? 0),
        sha256: f.sha2 || undefined,
        lastModified: f.lastModified ? new Date(f.lastModified) : undefined,
      };
    }
  }

  async delete(path: string): Promise<void> {
    const p = normalizeStorePath(path);
    const res = await this.send('delete', p, (http) => http.delete(this.contentUrl(p)));
    // 404: already gone; deleting is idempotent.
    if (res.statusCode === 404 || res.statusCode === 204 || res.statusCode === 200) return;
    throw this.httpError(res.statusCode, 'delete', p);
  }

  /** One request; what it throws (network, timeout, TLS) becomes the operation's StoreError. */
  private async send(
    operation: string,
    path: string,
    request: (http: Got) => Promise<Response<string>>,
  ): Promise<Response<string>> {
    try {
      return await request(this.http);
    } catch (err) {
      throw this.mapError(err, operation, path);
    }
  }

  private parse<T>(body: string, operation: string, path: string): T {
    try {
      return JSON.parse(body) as T;
    } catch (err) {
      throw new StoreError(this.description, operation, path, 'Artifactory answered with something that is not JSON', {
        cause: safeCause(err),
        retryable: false,
      });
    }
  }

  private httpError(status: number, operation: string, path: string): Error {
    if (status === 404) return new NotFoundError(this.description, path);
    if (status === 401 || status === 403) {
      return new StoreError(
        this.description,
        operation,
        path,
        `access denied (HTTP ${status}): check the Artifactory token (store.tokenFile) and its permissions on repository ${this.repo}`,
        { status, retryable: false },
      );
    }
    if (status === 416) {
      return new StoreError(this.description, operation, path, 'requested range is outside the file (HTTP 416)', {
        status,
        retryable: false,
      });
    }
    if (isRetryableStatus(status)) {
      return new StoreError(
        this.description,
        operation,
        path,
        `Artifactory unavailable (HTTP ${status}): try again later`,
        {
          status,
          retryable: true,
        },
      );
    }
    return new StoreError(this.description, operation, path, `unexpected HTTP ${status} from Artifactory`, {
      status,
      retryable: false,
    });
  }

  /** Thrown error (network, timeout, TLS) → StoreError; never carries got's request options. */
  private mapError(err: unknown, operation: string, path: string): Error {
    if (err instanceof NotFoundError || err instanceof StoreError) return err;
    const cause = safeCause(err, this.secrets);
    const netCode = networkErrorCode(err);
    if (netCode) {
      return new StoreError(
        this.description,
        operation,
        path,
        `network error (${netCode}): check store.url and that Artifactory is reachable`,
        {
          cause,
          retryable: true,
        },
      );
    }
    if (isHostNotFound(err)) {
      return new StoreError(this.description, operation, path, 'host not found: check store.url and DNS', { cause });
    }
    const message = redact(err instanceof Error ? err.message : String(err), this.secrets);
    return new StoreError(this.description, operation, path, message, { cause, retryable: false });
  }
}
