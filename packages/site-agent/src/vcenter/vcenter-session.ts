/**
 * One authenticated REST session with vCenter, built on got: login, logout, one re-login and
 * retry on a 401, and the three kinds of request ferry makes with it (a JSON call, a streamed
 * PUT of an upload, a streamed GET of a download).
 *
 * Sessions: a login (`POST /rest/com/vmware/cis/session`, Basic auth) yields a session id sent
 * as `vmware-api-session-id`. Any 401 on a replayable call (JSON bodies) triggers one re-login
 * and one retry. Concurrent callers share one login in flight.
 *
 * Upload URLs (`.../cis/data/<file id>/<name>` in vcsim) need the session header too: vcsim
 * authorizes them like every other /rest call, but only when the request starts, so a session
 * that expires mid-upload does not break the transfer. `put` checks the session right before
 * each PUT (a streamed body cannot be replayed after a 401).
 */
import { once } from 'node:events';
import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import type { Logger } from '@ferry/shared';
import { type Got, got, type Method, type Response } from 'got';
import { VsphereAuthError, VsphereError } from '../errors.js';
import type { UploadBody } from './content-library.js';
import { parseValue, SESSION_HEADER, VAPI_PATHS } from './vapi-wire.js';
import { errInfo, httpError, toVsphereError } from './vsphere-error-mapping.js';

export interface VcenterSessionOptions {
  /** vCenter origin, e.g. https://vcenter.dc1.example. */
  origin: string;
  username: string;
  password: string;
  /** Where the password came from, named when vCenter rejects it (default: both possible places). */
  passwordSource?: string;
  insecure?: boolean | undefined;
  ca?: string | Buffer | undefined;
  /** Timeout of a JSON call; for uploads and downloads the socket idle timeout. */
  requestTimeoutMs: number;
  logger: Logger;
}

export interface CallOptions {
  json?: unknown;
  searchParams?: Record<string, string>;
  /** Answer undefined instead of throwing on 404. */
  allow404?: boolean;
  /** Request timeout override (ms). */
  timeoutMs?: number;
}

export class VcenterSession {
  readonly origin: string;
  readonly requestTimeoutMs: number;
  private readonly username: string;
  private readonly password: string;
  private readonly passwordSource: string | undefined;
  private readonly log: Logger;
  private readonly http: Got;
  private sessionId: string | undefined;
  private loginInFlight: Promise<string> | undefined;

  constructor(opts: VcenterSessionOptions) {
    this.origin = opts.origin;
    this.username = opts.username;
    this.password = opts.password;
    this.passwordSource = opts.passwordSource;
    this.requestTimeoutMs = opts.requestTimeoutMs;
    this.log = opts.logger;
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
      await this.http(this.abs(VAPI_PATHS.session), {
        method: 'DELETE',
        headers: { [SESSION_HEADER]: sid },
        timeout: { request: this.requestTimeoutMs },
      });
      this.log.debug('logged out of vCenter');
    } catch (err) {
      this.log.warn({ err: errInfo(err) }, 'vCenter logout failed (ignored)');
    }
  }

  /** Make sure the session is valid right now (cheap GET; re-login on 401). */
  async checkSession(): Promise<void> {
    await this.call('check session', 'GET', VAPI_PATHS.session);
  }

  /**
   * One JSON call: session header, one re-login + retry on 401, errors mapped to VsphereError.
   * Returns the vAPI `value` (undefined for an empty body, or for 404 with allow404).
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
        throw toVsphereError(operation, err);
      }
      if (res.statusCode === 401 && attempt === 0) {
        sid = await this.relogin(sid);
        continue;
      }
      if (res.statusCode === 404 && opts.allow404) return undefined;
      if (res.statusCode >= 300) throw httpError(operation, res);
      return parseValue(res.body) as T | undefined;
    }
  }

  /**
   * PUT of `size` bytes to an upload URL, never buffered; the size is enforced. A pump body hands
   * each chunk to `write`, which resolves once the socket has taken it, so the pump may reuse
   * its buffer then (the import sends from two reused buffers: no allocation per byte). An error
   * the pump throws itself (a failed proof, an abort) comes out as it is.
   */
  async put(uploadUrl: string, body: UploadBody, size: number, onProgress?: (bytes: number) => void): Promise<void> {
    const op = 'upload';
    // The body cannot be replayed after a 401: make sure the session is good right now.
    await this.checkSession();
    const sid = await this.session();
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
    request.on('data', (chunk: Buffer) => {
      if (answer.length < 4096) answer += chunk.toString('utf8');
    });
    /** The request's own failure (network, TLS, timeout), as opposed to the pump's. */
    let failed: Error | undefined;
    const answered = new Promise<void>((resolve) => {
      request.once('end', resolve);
      request.once('error', (err: Error) => {
        failed ??= err;
        resolve();
      });
    });
    let sent = 0;
    const write = (chunk: Buffer): Promise<void> => {
      if (failed) return Promise.reject(failed);
      sent += chunk.length;
      if (sent > size) {
        failed = new VsphereError(op, `body is longer than the announced ${size} bytes`, { retryable: false });
        return Promise.reject(failed);
      }
      const upTo = sent;
      return new Promise((resolve, reject) => {
        request.write(chunk, (err?: Error | null) => {
          if (err) {
            failed ??= err;
            reject(failed);
            return;
          }
          onProgress?.(upTo);
          resolve();
        });
      });
    };
    try {
      await (typeof body === 'function' ? body(write) : pumpStream(body, write));
      if (sent !== size) {
        failed = new VsphereError(op, `body ended after ${sent} of ${size} bytes`, { retryable: false });
        throw failed;
      }
      request.end();
      await answered;
      if (failed) throw failed;
    } catch (err) {
      request.destroy();
      if (err !== failed) throw err;
      // An early error answer (e.g. 401 before the body was read) surfaces as a reset.
      if (status >= 300) throw httpError(op, { statusCode: status, body: answer });
      throw toVsphereError(op, err);
    }
    if (status >= 300 || status === 0) throw httpError(op, { statusCode: status, body: answer });
  }

  /** Streamed GET of a download URL; VsphereError when it does not answer 2xx. */
  async get(operation: string, uri: string): Promise<Readable> {
    const sid = await this.session();
    const stream = this.http.stream(uri, {
      headers: { [SESSION_HEADER]: sid },
      timeout: { socket: this.requestTimeoutMs },
    });
    let res: IncomingMessage;
    try {
      [res] = (await once(stream, 'response')) as [IncomingMessage];
    } catch (err) {
      throw toVsphereError(operation, err);
    }
    if (res.statusCode === undefined || res.statusCode >= 300) {
      const body = await readText(stream);
      throw httpError(operation, { statusCode: res.statusCode ?? 0, body });
    }
    return stream;
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
      res = await this.http(this.abs(VAPI_PATHS.session), {
        method: 'POST',
        headers: { authorization: `Basic ${auth}`, 'vmware-use-header-authn': 'true' },
        timeout: { request: this.requestTimeoutMs },
      });
    } catch (err) {
      throw toVsphereError('login', err);
    }
    if (res.statusCode === 401 || res.statusCode === 403) {
      this.sessionId = undefined;
      throw new VsphereAuthError(this.origin, this.username, {
        status: res.statusCode,
        passwordSource: this.passwordSource,
      });
    }
    if (res.statusCode >= 300) throw httpError('login', res);
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

  private abs(path: string): string {
    return this.origin + path;
  }
}

/** The start of an error answer's body (enough for its vAPI message). */
async function readText(stream: Readable): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    if (text.length < 4096) text += String(chunk);
  }
  return text;
}

/** A stream body as a pump: one chunk at a time, each written before the next is read. */
async function pumpStream(body: Readable, write: (chunk: Buffer) => Promise<void>): Promise<void> {
  for await (const chunk of body) await write(chunk as Buffer);
}
