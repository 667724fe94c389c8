/**
 * httpGetInto against real loopback servers (node:http and node:https): the bytes arrive whole and
 * in order through one reused buffer, whatever the sink takes at a time, and every way a GET can
 * go wrong ends in one HttpGetError (or the sink's own error) that names no URL or header.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createServer as createHttp, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { type ByteSink, HttpGetError, httpGetInto } from '@ferry/shared';
import { generate } from 'selfsigned';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const DATA = randomBytes(3 * 1024 * 1024 + 777);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
let handler: Handler = () => {};
const sockets = new Set<Socket>();
let http: Server;
let https: Server;
let ca: string;
let base: string;
let tlsBase: string;

function listen(server: Server): Promise<number> {
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** The test data, or `range` of it, written in small pieces (so headers and body share reads). */
function serveData(req: IncomingMessage, res: ServerResponse): void {
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  const start = m ? Number(m[1]) : 0;
  const body = DATA.subarray(start);
  res.writeHead(m ? 206 : 200, { 'content-length': body.length });
  for (let off = 0; off < body.length; off += 100_000) res.write(body.subarray(off, off + 100_000));
  res.end();
}

beforeAll(async () => {
  const onRequest = (req: IncomingMessage, res: ServerResponse) => handler(req, res);
  http = createHttp(onRequest);
  base = `http://127.0.0.1:${await listen(http)}`;
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  });
  ca = pems.cert;
  https = createHttps({ cert: pems.cert, key: pems.private }, onRequest);
  tlsBase = `https://127.0.0.1:${await listen(https)}`;
});
afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((r) => http.close(r));
  await new Promise((r) => https.close(r));
});

/** A sink that keeps copies and takes at most `max` bytes per call, with a pause after each full take. */
function collector(max = Number.POSITIVE_INFINITY): ByteSink & { data(): Buffer; calls: number } {
  const parts: Buffer[] = [];
  let full = false;
  const sink = {
    calls: 0,
    take(chunk: Buffer): number {
      sink.calls++;
      if (full) return 0;
      const n = Math.min(max, chunk.length);
      parts.push(Buffer.from(chunk.subarray(0, n)));
      if (n < chunk.length) full = true;
      return n;
    },
    async room(): Promise<void> {
      await new Promise((r) => setTimeout(r, 1));
      full = false;
    },
    data: () => Buffer.concat(parts),
  };
  return sink;
}

const get = (url: string, sink: ByteSink, extra: Partial<Parameters<typeof httpGetInto>[2]> = {}, headers = {}) =>
  httpGetInto({ url: new URL(url), headers, ca }, sink, { expect: 200, ...extra });

describe('httpGetInto', () => {
  it('delivers the whole body, in order, over http and https, through one small reused buffer', async () => {
    handler = serveData;
    for (const url of [`${base}/obj`, `${tlsBase}/obj`]) {
      const sink = collector();
      // A 64 KiB buffer: the body arrives in many reads of the same memory.
      expect(await get(url, sink, { bufferBytes: 64 << 10 })).toBe(DATA.length);
      expect(sha(sink.data())).toBe(sha(DATA));
    }
  });

  it('pauses while the sink is full and resumes with exactly the bytes it did not take', async () => {
    handler = serveData;
    const sink = collector(10_000);
    expect(await get(`${base}/obj`, sink)).toBe(DATA.length);
    expect(sha(sink.data())).toBe(sha(DATA));
    expect(sink.calls).toBeGreaterThan(DATA.length / 10_000);
  });

  it('reads a range (206) and refuses a server that ignores the Range header', async () => {
    handler = serveData;
    const sink = collector();
    const n = await get(`${base}/obj`, sink, { expect: 206 }, { range: 'bytes=1000-' });
    expect(n).toBe(DATA.length - 1000);
    expect(sink.data().equals(DATA.subarray(1000))).toBe(true);
    const err = await get(`${base}/obj`, collector(), { expect: 206 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HttpGetError);
    expect((err as HttpGetError).message).toMatch(/ignored the Range header/);
  });

  it('reports an HTTP error with its status and body (where stores name the error)', async () => {
    handler = (_req, res) => {
      res.writeHead(404, { 'content-type': 'application/xml' });
      res.end('<Error><Code>NoSuchKey</Code></Error>');
    };
    const err = (await get(`${base}/missing`, collector()).catch((e: unknown) => e)) as HttpGetError;
    expect(err).toBeInstanceOf(HttpGetError);
    expect(err.details.status).toBe(404);
    expect(err.details.body).toContain('<Code>NoSuchKey</Code>');
  });

  it('follows a redirect, and sends credentials only to the origin they were given for', async () => {
    const seen: Array<{ path: string; auth: string | undefined }> = [];
    handler = (req, res) => {
      seen.push({ path: req.url ?? '', auth: req.headers.authorization });
      if (req.url === '/start') {
        res.writeHead(302, { location: '/same-origin', 'content-length': 0 });
        res.end();
      } else if (req.url === '/same-origin') {
        res.writeHead(307, { location: `${tlsBase}/other-origin`, 'content-length': 0 });
        res.end();
      } else serveData(req, res);
    };
    const sink = collector();
    await get(`${base}/start`, sink, {}, { authorization: 'Bearer secret-token' });
    expect(sha(sink.data())).toBe(sha(DATA));
    expect(seen).toEqual([
      { path: '/start', auth: 'Bearer secret-token' },
      { path: '/same-origin', auth: 'Bearer secret-token' },
      { path: '/other-origin', auth: undefined },
    ]);
  });

  it('refuses a chunked body as EUNSUPPORTED before taking any byte (the caller reads a stream instead)', async () => {
    handler = (_req, res) => {
      res.writeHead(200); // no content-length: node sends it chunked
      res.end('abc');
    };
    const sink = collector();
    const err = (await get(`${base}/chunked`, sink).catch((e: unknown) => e)) as HttpGetError;
    expect(err.code).toBe('EUNSUPPORTED');
    expect(sink.calls).toBe(0);
  });

  it('a connection cut mid-body is ECONNRESET after the bytes that did arrive', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-length': DATA.length });
      res.write(DATA.subarray(0, 500_000), () => res.socket?.destroy());
    };
    const sink = collector();
    const err = (await get(`${base}/cut`, sink).catch((e: unknown) => e)) as HttpGetError;
    expect(err).toBeInstanceOf(HttpGetError);
    expect(err.code).toBe('ECONNRESET');
    expect(err.message).toMatch(/connection closed after \d+ of \d+ bytes/);
    expect(sink.data().equals(DATA.subarray(0, sink.data().length))).toBe(true);
  });

  it("ends with the sink's own error, and with the signal's reason when aborted", async () => {
    handler = serveData;
    const failing: ByteSink = {
      take: () => {
        throw new Error('disk full');
      },
      room: async () => {},
    };
    await expect(get(`${base}/obj`, failing)).rejects.toThrow('disk full');

    handler = (_req, res) => {
      res.writeHead(200, { 'content-length': DATA.length });
      res.write(DATA.subarray(0, 1000)); // then silence
    };
    const stop = new AbortController();
    const pending = get(`${base}/stall`, collector(), { signal: stop.signal });
    stop.abort(new Error('job cancelled'));
    await expect(pending).rejects.toThrow('job cancelled');
  });

  it('an unknown CA is a TLS error that names neither the URL nor a header', async () => {
    handler = serveData;
    const err = (await httpGetInto(
      { url: new URL(`${tlsBase}/obj?X-Amz-Signature=secret-sig`), headers: { authorization: 'Bearer secret-token' } },
      collector(),
      { expect: 200 },
    ).catch((e: unknown) => e)) as HttpGetError;
    expect(err).toBeInstanceOf(HttpGetError);
    expect(err.message).not.toMatch(/secret|127\.0\.0\.1/);
  });
});
