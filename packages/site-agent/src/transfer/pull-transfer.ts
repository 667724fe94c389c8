/**
 * One PULL import of registered files into an open update session: check that the listener
 * really presents the certificate whose thumbprint vCenter is given, announce every file with
 * `source_type: PULL`, wait until vCenter has fetched them, prove that it fetched every byte we
 * offered, then complete the session.
 *
 * Why the checks on our side: vcsim 0.24 GETs the URL without checking the thumbprint, the
 * checksum or the HTTP status (a 404 body would become the file). A real vCenter checks the
 * first two itself; ours catch a wrong `pull.url` (e.g. a proxy with another certificate), an
 * expired registration or a cut transfer on both.
 */
import { connect, type PeerCertificate } from 'node:tls';
import { FerryError, type Logger, silentLogger } from '@ferry/shared';
import type { UpdateSession } from '../vcenter/content-library-client.js';
import type { PullRegistration } from './pull-server.js';

/** How long probing the listener's certificate may take. */
const PROBE_TIMEOUT_MS = 10_000;

export class PullTransferError extends FerryError {
  constructor(code: 'PULL_THUMBPRINT_MISMATCH' | 'PULL_INCOMPLETE', message: string, retryable: boolean) {
    super(code, message, { retryable });
  }
}

export interface PullTransferOptions {
  /** How long vCenter may take to fetch every file. */
  timeoutMs: number;
  logger?: Logger;
}

/** Drives `session` through a PULL of every file of `reg`; fails the session on any error. */
export async function pullIntoSession(
  session: UpdateSession,
  reg: PullRegistration,
  opts: PullTransferOptions,
): Promise<void> {
  const log = (opts.logger ?? silentLogger()).child({ component: 'pull-transfer', registration: reg.id });
  const names = reg.files.map((f) => f.name);
  try {
    const first = Object.values(reg.urls)[0];
    if (first !== undefined) await checkThumbprint(first, reg.thumbprint, log);
    for (const f of reg.files) {
      const uri = reg.urls[f.name];
      if (uri === undefined) throw new Error(`no PULL URL for ${f.name}`);
      await session.addPullFile({ name: f.name, size: f.size, sha256: f.sha256, uri, thumbprint: reg.thumbprint });
    }
    await session.waitForTransfers(names, opts.timeoutMs);
    const short = names.filter((n) => !reg.served(n));
    if (short.length > 0) {
      throw new PullTransferError(
        'PULL_INCOMPLETE',
        `vCenter did not fetch every byte of ${short.join(', ')} from the PULL listener (URL expired, revoked or cut short)`,
        true,
      );
    }
  } catch (err) {
    await session.fail(err instanceof Error ? err.message : String(err));
    throw err;
  } finally {
    // The files are in vCenter (or the session failed): the URLs have done their job.
    reg.revoke();
  }
  await session.complete();
  log.info({ files: names.length }, 'PULL import completed');
}

/**
 * Connects to the URL's host like vCenter will and compares the SHA-1 thumbprint of the
 * certificate it presents with the one vCenter is told. A host the agent itself cannot reach
 * (e.g. hairpin NAT) only warns: vCenter may still reach it.
 */
export async function checkThumbprint(url: string, expected: string, log: Logger = silentLogger()): Promise<void> {
  let cert: PeerCertificate;
  try {
    cert = await peerCertificate(url);
  } catch (err) {
    log.warn({ url: new URL(url).origin, err: (err as Error).message }, 'could not probe the PULL listener');
    return;
  }
  if (normalize(cert.fingerprint) !== normalize(expected)) {
    throw new PullTransferError(
      'PULL_THUMBPRINT_MISMATCH',
      `the PULL listener at ${new URL(url).origin} presents a certificate with SHA-1 thumbprint ${cert.fingerprint}, ` +
        `not ${expected} as handed to vCenter: make pull.url point at this agent's listener (not a proxy with another certificate)`,
      false,
    );
  }
}

function normalize(thumbprint: string): string {
  return thumbprint.replace(/:/g, '').toUpperCase();
}

function peerCertificate(url: string): Promise<PeerCertificate> {
  const u = new URL(url);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  return new Promise((resolve, reject) => {
    const socket = connect({
      host,
      port: Number(u.port || 443),
      // Only the certificate's identity matters here; vCenter pins it by thumbprint.
      rejectUnauthorized: false,
      ...(/^[\d.]+$/.test(host) || host.includes(':') ? {} : { servername: host }),
      timeout: PROBE_TIMEOUT_MS,
    });
    socket.once('secureConnect', () => {
      const cert = socket.getPeerCertificate();
      socket.end();
      resolve(cert);
    });
    socket.once('timeout', () => socket.destroy(new Error(`no TLS handshake within ${PROBE_TIMEOUT_MS} ms`)));
    socket.once('error', reject);
  });
}
