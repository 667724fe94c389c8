/**
 * One update session of a library item: announce files (PUSH: ferry uploads them; PULL: vCenter
 * fetches them), upload, validate, complete or fail, and watch vCenter's transfers. While the
 * session is open a keep-alive timer checks the REST session (re-login on 401) and extends the
 * update session, so hours-long uploads survive both timeouts.
 */
import type { Logger } from '@ferry/shared';
import { UpdateSessionError, VsphereError } from '../errors.js';
import { pollUntil } from '../poll.js';
import type { LibraryUpdateSession, UpdateSessionFileInfo, UpdateSessionInfo, UploadBody } from './content-library.js';
import { type RawSession, type RawTransferFile, toUpdateSessionInfo, VAPI_PATHS } from './vapi-wire.js';
import type { VcenterSession } from './vcenter-session.js';
import { errInfo, toVsphereError } from './vsphere-error-mapping.js';

export interface UpdateSessionTiming {
  /** Keep-alive period while the session is open (0: none). */
  keepAliveMs: number;
  /** How long complete() waits for the session to leave ACTIVE. */
  completeTimeoutMs: number;
}

/** The state of update session `id` as vCenter reports it; undefined once it is gone. */
export async function getUpdateSession(rest: VcenterSession, id: string): Promise<UpdateSessionInfo | undefined> {
  const raw = await rest.call<RawSession>('get update session', 'GET', `${VAPI_PATHS.updateSession}/id:${id}`, {
    allow404: true,
  });
  return raw === undefined ? undefined : toUpdateSessionInfo(raw, id);
}

/** One update session of a library item (PUSH uploads, PULL files), until complete, fail or cancel. */
export class UpdateSession implements LibraryUpdateSession {
  private timer: NodeJS.Timeout | undefined;
  private keepAliveRunning = false;
  private finished = false;
  /** file name -> uploaded? (client-side view, cross-checked by validate()) */
  private readonly files = new Map<string, boolean>();
  /** upload URL -> file name */
  private readonly urls = new Map<string, string>();

  constructor(
    private readonly rest: VcenterSession,
    readonly id: string,
    readonly itemId: string,
    private readonly log: Logger,
    private readonly timing: UpdateSessionTiming,
  ) {
    if (timing.keepAliveMs > 0) {
      this.timer = setInterval(() => void this.keepAlive(), timing.keepAliveMs);
      this.timer.unref();
    }
  }

  private get path(): string {
    return `${VAPI_PATHS.updateSession}/id:${this.id}`;
  }

  private get filesPath(): string {
    return `${VAPI_PATHS.updateSessionFile}/id:${this.id}`;
  }

  /** Announce a file to PUSH; returns its upload URL. */
  async addFile(file: {
    name: string;
    size: number;
    checksum?: { algorithm: 'SHA256' | 'SHA1'; checksum: string };
  }): Promise<string> {
    const spec: Record<string, unknown> = { name: file.name, source_type: 'PUSH', size: file.size };
    if (file.checksum) spec['checksum_info'] = { algorithm: file.checksum.algorithm, checksum: file.checksum.checksum };
    const info = await this.rest.call<RawTransferFile>('add file', 'POST', this.filesPath, {
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
    await this.rest.call('add file', 'POST', this.filesPath, {
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
      (await this.rest.call<RawTransferFile[] | null>('list session files', 'GET', VAPI_PATHS.updateSessionFile, {
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
        const session = await getUpdateSession(this.rest, this.id);
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
  async upload(uploadUrl: string, body: UploadBody, size: number, onProgress?: (bytes: number) => void): Promise<void> {
    const name = this.urls.get(uploadUrl);
    const started = Date.now();
    await this.rest.put(uploadUrl, body, size, onProgress);
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
    const res = await this.rest.call<{
      has_errors?: boolean;
      missing_files?: string[];
      invalid_files?: { name?: string; error_message?: { default_message?: string } }[];
    }>('validate', 'POST', this.filesPath, { searchParams: { '~action': 'validate' } });
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
      await this.rest.call('complete', 'POST', this.path, { searchParams: { '~action': 'complete' } });
      await pollUntil(
        async () => {
          const info = await getUpdateSession(this.rest, this.id);
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
          timeoutMs: this.timing.completeTimeoutMs,
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
      const e = err instanceof VsphereError ? err : toVsphereError('complete', err);
      throw new UpdateSessionError(this.id, 'complete', e.message, { cause: e, retryable: e.retryable });
    }
    this.stop();
    await this.remove();
  }

  /** Mark the session failed with a message for vCenter's logs; best effort, never throws. */
  async fail(message: string): Promise<void> {
    this.stop();
    try {
      await this.rest.call('fail', 'POST', this.path, {
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
      await this.rest.call('cancel', 'POST', this.path, { searchParams: { '~action': 'cancel' }, allow404: true });
    } catch (err) {
      this.log.warn({ err: errInfo(err) }, 'could not cancel the update session (ignored)');
    }
    await this.remove();
  }

  /** Delete the finished session so it no longer shows in listings. */
  private async remove(): Promise<void> {
    try {
      await this.rest.call('delete update session', 'DELETE', this.path, { allow404: true });
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
      await this.rest.checkSession();
      if (!this.finished) {
        await this.rest.call('keep-alive', 'POST', this.path, { searchParams: { '~action': 'keep-alive' } });
      }
      this.log.debug('update session kept alive');
    } catch (err) {
      this.log.warn({ err: errInfo(err) }, 'keep-alive failed (will try again)');
    } finally {
      this.keepAliveRunning = false;
    }
  }
}
