/**
 * Reading a file of a library item back out of vCenter through a download session: open the
 * session, ask vCenter to prepare the file, wait until it is PREPARED, GET it. The session is
 * deleted when the stream ends or fails (vCenter would keep it until it times out).
 */
import { randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Logger } from '@ferry/shared';
import { VsphereError } from '../errors.js';
import { pollUntil } from '../poll.js';
import { type RawTransferFile, VAPI_PATHS } from './vapi-wire.js';
import type { VcenterSession } from './vcenter-session.js';
import { errInfo } from './vsphere-error-mapping.js';

/** How many request timeouts vCenter may take to prepare a file for download. */
const PREPARE_TIMEOUT_FACTOR = 10;

export async function downloadFile(
  rest: VcenterSession,
  itemId: string,
  fileName: string,
  log: Logger,
): Promise<Readable> {
  const op = 'download file';
  const sessionId = await rest.call<string>('open download session', 'POST', VAPI_PATHS.downloadSession, {
    json: { client_token: randomUUID(), create_spec: { library_item_id: itemId } },
  });
  if (typeof sessionId !== 'string') throw new VsphereError(op, 'no download session id in the answer');
  const cleanup = async () => {
    try {
      await rest.call('delete download session', 'DELETE', `${VAPI_PATHS.downloadSession}/id:${sessionId}`, {
        allow404: true,
      });
    } catch (err) {
      log.warn({ err: errInfo(err) }, 'could not delete download session (ignored)');
    }
  };
  try {
    const filePath = `${VAPI_PATHS.downloadSessionFile}/id:${sessionId}`;
    // The first probe asks vCenter to prepare the file, the next ones ask how far it got.
    let action: 'prepare' | 'get' = 'prepare';
    const info = await pollUntil(
      async () => {
        const json =
          action === 'prepare' ? { file_name: fileName, encryption_method: 'NONE' } : { file_name: fileName };
        const operation = action === 'prepare' ? 'prepare download' : 'get download file';
        const file = await rest.call<RawTransferFile>(operation, 'POST', filePath, {
          searchParams: { '~action': action },
          json,
        });
        action = 'get';
        if (file?.status === 'ERROR') {
          throw new VsphereError(op, `vCenter could not prepare ${fileName}: ${file.error_message?.default_message}`);
        }
        return file?.status === 'PREPARED' ? file : undefined;
      },
      {
        timeoutMs: rest.requestTimeoutMs * PREPARE_TIMEOUT_FACTOR,
        onTimeout: () => new VsphereError(op, `${fileName} was not prepared in time`),
      },
    );
    const uri = info.download_endpoint?.uri;
    if (!uri) throw new VsphereError(op, `no download URL for ${fileName}`, { retryable: false });
    const stream = await rest.get(op, uri);
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
