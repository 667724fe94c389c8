/**
 * The agent's PULL listener: an HTTPS server from which vCenter GETs the entries of a verified,
 * cached OVA. Each entry is a byte range of the cached file (no extraction). A registration
 * (one update session) gets a random 256-bit token; its URLs `/pull/<token>/<file name>` serve
 * only that session's files and only until the registration expires or is revoked.
 *
 *   unknown token or a name outside the session → 404
 *   expired or revoked token                    → 410 (remembered for TOMBSTONE_MS, then 404)
 *
 * The certificate is the configured one (`pull.certFile`/`keyFile`) or a self-signed one made
 * at start; its SHA-1 thumbprint is what vCenter is told to expect.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { pipeline } from 'node:stream/promises';
import { ConfigError, type Logger, parseListen, silentLogger } from '@ferry/shared';
import { generate } from 'selfsigned';
import { type TokenBucket, throttle } from './token-bucket.js';

/** One file of a registration: `size` bytes of `path` from `offset` on. */
export interface PullFile {
  name: string;
  path: string;
  offset: number;
  size: number;
  sha256: string;
}

export interface PullRegistration {
  id: string;
  /** file name → URL vCenter GETs */
  urls: Record<string, string>;
  /** SHA-1 thumbprint of the listener's certificate, `AA:BB:…` as vCenter expects it. */
  thumbprint: string;
  expiresAt: number;
  files: readonly PullFile[];
  /** Whether every byte of `name` has been sent in one response. */
  served(name: string): boolean;
  /** End the registration now (its URLs answer 410). */
  revoke(): void;
}

export interface PullServerOptions {
  /** host:port to listen on; port 0 picks a free one. */
  listen: string;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  /** Base URL vCenter reaches the listener at (default https://<listen host>:<port>). */
  url?: string | undefined;
  /** Limits for bytes sent (e.g. the agent's `bandwidth.vcenter`). */
  buckets?: readonly TokenBucket[];
  logger?: Logger;
}

/** How long an expired or revoked token still answers 410 rather than 404. */
export const TOMBSTONE_MS = 3_600_000;
const TOKEN_BYTES = 32;
const PATH_PREFIX = '/pull/';

interface Entry {
  id: string;
  expiresAt: number;
  revoked: boolean;
  files: Map<string, PullFile>;
  served: Set<string>;
  /** The target's own limits, besides the listener's. */
  buckets: readonly TokenBucket[];
}

export class PullServer {
  private readonly sessions = new Map<string, Entry>();
  private readonly log: Logger;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    readonly thumbprint: string,
    private readonly buckets: readonly TokenBucket[],
    logger: Logger,
  ) {
    this.log = logger;
  }

  static async start(opts: PullServerOptions): Promise<PullServer> {
    const log = (opts.logger ?? silentLogger()).child({ component: 'pull-server' });
    const { host, port: listenPort } = parseListen(opts.listen);
    const { cert, key } = await loadOrMakeCertificate(opts, host);
    const thumbprint = new X509Certificate(cert).fingerprint;
    let self: PullServer | undefined;
    const server = createServer({ cert, key }, (req, res) => {
      if (self) self.handle(req, res);
      else res.writeHead(503).end();
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listenPort, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const port = (server.address() as AddressInfo).port;
    const publicHost = host === '0.0.0.0' || host === '[::]' ? hostname() : host;
    const url = (opts.url ?? `https://${publicHost}:${port}`).replace(/\/+$/, '');
    self = new PullServer(server, url, thumbprint, opts.buckets ?? [], log);
    log.info({ url, listen: `${host}:${port}`, thumbprint }, 'PULL listener started');
    return self;
  }

  /** Serve these files to one update session for `ttlMs`; their URLs are unguessable. */
  register(files: readonly PullFile[], ttlMs: number, buckets: readonly TokenBucket[] = []): PullRegistration {
    this.prune();
    const names = new Set<string>();
    for (const f of files) {
      if (names.has(f.name)) throw new Error(`PULL registration lists ${JSON.stringify(f.name)} twice`);
      names.add(f.name);
    }
    const token = randomBytes(TOKEN_BYTES).toString('base64url');
    const entry: Entry = {
      id: token.slice(0, 8),
      expiresAt: Date.now() + ttlMs,
      revoked: false,
      files: new Map(files.map((f) => [f.name, f])),
      served: new Set(),
      buckets,
    };
    this.sessions.set(token, entry);
    const urls: Record<string, string> = {};
    for (const f of files) urls[f.name] = `${this.url}${PATH_PREFIX}${token}/${encodeURIComponent(f.name)}`;
    this.log.debug({ registration: entry.id, files: files.length, ttlMs }, 'PULL files registered');
    return {
      id: entry.id,
      urls,
      thumbprint: this.thumbprint,
      expiresAt: entry.expiresAt,
      files,
      served: (name) => entry.served.has(name),
      revoke: () => {
        entry.revoked = true;
      },
    };
  }

  /** Stop listening; open responses are cut. */
  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private prune(): void {
    const now = Date.now();
    for (const [token, e] of this.sessions) if (e.expiresAt + TOMBSTONE_MS < now) this.sessions.delete(token);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    const path = (req.url ?? '').split('?')[0] ?? '';
    const rest = path.startsWith(PATH_PREFIX) ? path.slice(PATH_PREFIX.length) : '';
    const slash = rest.indexOf('/');
    const token = slash > 0 ? rest.slice(0, slash) : '';
    const entry = this.sessions.get(token);
    // Never log the token: it is the credential of the URL.
    if (!entry) {
      res.writeHead(404).end();
      return;
    }
    if (entry.revoked || Date.now() > entry.expiresAt) {
      res.writeHead(410).end();
      return;
    }
    let name: string;
    try {
      name = decodeURIComponent(rest.slice(slash + 1));
    } catch {
      res.writeHead(404).end();
      return;
    }
    const file = entry.files.get(name);
    if (!file) {
      res.writeHead(404).end();
      return;
    }
    const range = parseRange(req.headers.range, file.size);
    if (range === 'invalid') {
      res.writeHead(416, { 'content-range': `bytes */${file.size}` }).end();
      return;
    }
    const [start, end] = range ?? [0, file.size - 1];
    const length = end - start + 1;
    res.writeHead(range ? 206 : 200, {
      'content-type': 'application/octet-stream',
      'content-length': String(length),
      'accept-ranges': 'bytes',
      ...(range ? { 'content-range': `bytes ${start}-${end}/${file.size}` } : {}),
    });
    if (req.method === 'HEAD' || length === 0) {
      if (length === 0 && !range) entry.served.add(name);
      res.end();
      return;
    }
    const log = this.log.child({ registration: entry.id, file: name });
    const body = createReadStream(file.path, { start: file.offset + start, end: file.offset + end });
    const buckets = [...this.buckets, ...entry.buckets];
    const stages = buckets.length > 0 ? [body, throttle(buckets), res] : [body, res];
    pipeline(stages as [typeof body, typeof res]).then(
      () => {
        if (!range || (start === 0 && end === file.size - 1)) entry.served.add(name);
        log.debug({ bytes: length }, 'PULL file served');
      },
      (err: unknown) => {
        // vCenter hung up or the cache file went away: vCenter sees a short body and fails.
        log.warn({ err: err instanceof Error ? err.message : String(err) }, 'PULL response ended early');
      },
    );
  }
}

/** A single `bytes=a-b`, `bytes=a-` or `bytes=-n` range; undefined for none. */
export function parseRange(header: string | undefined, size: number): [number, number] | 'invalid' | undefined {
  if (header === undefined) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return 'invalid';
  let start: number;
  let end: number;
  if (m[1] === '') {
    start = Math.max(0, size - Number(m[2]));
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start > end || start >= size) return 'invalid';
  return [start, end];
}

async function loadOrMakeCertificate(opts: PullServerOptions, host: string): Promise<{ cert: string; key: string }> {
  if (opts.certFile !== undefined || opts.keyFile !== undefined) {
    if (opts.certFile === undefined || opts.keyFile === undefined) {
      throw new ConfigError('pull: give both certFile and keyFile, or neither (a self-signed certificate is made)');
    }
    try {
      return { cert: await readFile(opts.certFile, 'utf8'), key: await readFile(opts.keyFile, 'utf8') };
    } catch (err) {
      throw new ConfigError(`pull: cannot read the certificate or key: ${(err as Error).message}`, undefined, 'pull', {
        cause: err,
      });
    }
  }
  const names = new Set([opts.url ? new URL(opts.url).hostname : host, hostname(), 'localhost']);
  const altNames = [...names].map((n) =>
    /^[\d.]+$/.test(n) || n.includes(':')
      ? { type: 7 as const, ip: n.replace(/^\[|\]$/g, '') }
      : { type: 2 as const, value: n },
  );
  const pems = await generate([{ name: 'commonName', value: [...names][0]! }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notAfterDate: new Date(Date.now() + 365 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  return { cert: pems.cert, key: pems.private };
}
