/**
 * STAND-IN for JFrog Artifactory. No Artifactory server can be installed on this machine, so this
 * small node:http server answers as Artifactory's documented REST API does for one *generic*
 * local repository, serving files from a temp dir. It is not Artifactory; it implements only:
 *
 * - Deploy Artifact: `PUT /artifactory/{repo}/{path}` → 201 + JSON (repo, path, created, size,
 *   checksums, downloadUri, uri). Honours `X-Checksum-Sha256` / `X-Checksum-Sha1` / `X-Checksum`
 *   (md5) by verifying them against the received bytes: 409 on mismatch, nothing stored.
 *   Computes and keeps sha1, sha256 and md5 of every deployed file.
 * - Retrieve Artifact: `GET`/`HEAD /artifactory/{repo}/{path}` with `Content-Length`,
 *   `X-Checksum-Sha1`, `X-Checksum-Sha256`, `X-Checksum-Md5`, `ETag`, `Last-Modified`,
 *   `Accept-Ranges: bytes`; a single `Range: bytes=a-b` / `a-` / `-n` → 206 + `Content-Range`,
 *   a range that starts past the end → 416 + `Content-Range: bytes *\/size`.
 * - File Info: `GET /artifactory/api/storage/{repo}/{path}` → `{ repo, path, created, createdBy,
 *   lastModified, lastUpdated, downloadUri, mimeType, size: "<string>", checksums: { sha1, md5,
 *   sha256 }, originalChecksums, uri }`; on a folder: Folder Info `{ repo, path, created,
 *   lastModified, children: [{ uri, folder }], uri }`.
 * - File List: `GET /artifactory/api/storage/{repo}/{folder}?list&deep=1&listFolders=0` →
 *   `{ uri, created, files: [{ uri: "/sub/path", size, lastModified, folder: false, sha1, sha2 }] }`.
 * - Delete Item: `DELETE /artifactory/{repo}/{path}` → 204 (files or folders), 404 when missing.
 * - Auth: `Authorization: Bearer <token>` or `X-JFrog-Art-Api: <key>` (both equal `token` here);
 *   wrong or missing → 401 `{ errors: [{ status: 401, message }] }`. Errors use Artifactory's
 *   `{ errors: [{ status, message }] }` JSON body.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, rename, rm, stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, posix, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { freePort, LOOPBACK } from './ports.js';

export interface ArtifactoryStandin {
  /** `http://127.0.0.1:PORT/artifactory` */
  url: string;
  repo: string;
  token: string;
  /** Files live under `{dir}/{repo}/…`. */
  dir: string;
  /** Number of GET requests for artifact content (not HEAD, not /api/storage). */
  readonly requests: number;
  stop(): Promise<void>;
}

interface Meta {
  sha1: string;
  sha256: string;
  md5: string;
  created: Date;
}

function digest(file: string): Promise<Omit<Meta, 'created'>> {
  return new Promise((resolve, reject) => {
    const h1 = createHash('sha1');
    const h256 = createHash('sha256');
    const h5 = createHash('md5');
    createReadStream(file)
      .on('data', (c) => {
        h1.update(c);
        h256.update(c);
        h5.update(c);
      })
      .on('error', reject)
      .on('end', () => resolve({ sha1: h1.digest('hex'), sha256: h256.digest('hex'), md5: h5.digest('hex') }));
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown, headOnly = false): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(headOnly ? undefined : text);
}

function sendError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { errors: [{ status, message }] });
}

export async function startArtifactoryStandin(opts: { repo: string; token: string }): Promise<ArtifactoryStandin> {
  const { repo, token } = opts;
  const dir = await mkdtemp(join(tmpdir(), 'ferry-artifactory-'));
  const repoDir = join(dir, repo);
  await mkdir(repoDir, { recursive: true });
  const port = await freePort();
  const base = `http://${LOOPBACK}:${port}/artifactory`;
  const meta = new Map<string, Meta>();
  let contentGets = 0;
  let tmpCounter = 0;

  /** Repository-relative path → file on disk, or undefined when it would escape the repository. */
  const fileOf = (relPath: string): string | undefined => {
    const clean = posix.normalize(`/${relPath}`).slice(1);
    if (clean.split('/').includes('..')) return undefined;
    const full = join(repoDir, ...clean.split('/').filter(Boolean));
    return full === repoDir || full.startsWith(repoDir + sep) ? full : undefined;
  };

  const metaOf = async (relPath: string, file: string, created: Date): Promise<Meta> => {
    const known = meta.get(relPath);
    if (known) return known;
    // A file put into the dir by a test directly: checksum it on first sight, as Artifactory
    // does when it indexes an imported file.
    const m = { ...(await digest(file)), created };
    meta.set(relPath, m);
    return m;
  };

  const authorized = (req: IncomingMessage): boolean => {
    const auth = req.headers.authorization;
    if (auth?.startsWith('Bearer ') && auth.slice('Bearer '.length) === token) return true;
    return req.headers['x-jfrog-art-api'] === token;
  };

  const walkFiles = async (folder: string): Promise<string[]> => {
    const out: string[] = [];
    for (const entry of await readdir(folder, { withFileTypes: true })) {
      if (entry.name.startsWith('.ferry-standin-upload-')) continue;
      const full = join(folder, entry.name);
      if (entry.isDirectory()) out.push(...(await walkFiles(full)));
      else if (entry.isFile()) out.push(full);
    }
    return out;
  };

  const handleStorage = async (res: ServerResponse, url: URL, rest: string) => {
    const [reqRepo = '', ...parts] = rest.split('/');
    if (reqRepo !== repo) return sendError(res, 404, `Repository ${reqRepo} not found`);
    const relPath = parts.filter(Boolean).join('/');
    const file = fileOf(relPath);
    if (!file) return sendError(res, 400, 'Invalid path');
    const st = await stat(file).catch(() => undefined);
    if (!st) return sendError(res, 404, 'Unable to find item');
    const itemPath = `/${relPath}`;
    if (url.searchParams.has('list')) {
      if (!st.isDirectory()) return sendError(res, 400, 'Expected a folder');
      const deep = url.searchParams.get('deep') === '1';
      const files = [];
      const candidates = deep
        ? await walkFiles(file)
        : (await readdir(file, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(file, e.name));
      for (const f of candidates) {
        const fst = await stat(f);
        const sub = f.slice(file.length).split(sep).join('/');
        const rel = relPath ? `${relPath}${sub}` : sub.slice(1);
        const m = await metaOf(rel, f, fst.birthtime);
        files.push({
          uri: sub,
          size: fst.size,
          lastModified: fst.mtime.toISOString(),
          folder: false,
          sha1: m.sha1,
          sha2: m.sha256,
        });
      }
      return sendJson(res, 200, {
        uri: `${base}/api/storage/${repo}${relPath ? itemPath : ''}`,
        created: st.birthtime.toISOString(),
        files,
      });
    }
    if (st.isDirectory()) {
      const children = (await readdir(file, { withFileTypes: true }))
        .filter((e) => !e.name.startsWith('.ferry-standin-upload-'))
        .map((e) => ({ uri: `/${e.name}`, folder: e.isDirectory() }));
      return sendJson(res, 200, {
        repo,
        path: itemPath,
        created: st.birthtime.toISOString(),
        lastModified: st.mtime.toISOString(),
        lastUpdated: st.mtime.toISOString(),
        children,
        uri: `${base}/api/storage/${repo}${itemPath}`,
      });
    }
    const m = await metaOf(relPath, file, st.birthtime);
    return sendJson(res, 200, {
      repo,
      path: itemPath,
      created: m.created.toISOString(),
      createdBy: 'ferry',
      lastModified: st.mtime.toISOString(),
      modifiedBy: 'ferry',
      lastUpdated: st.mtime.toISOString(),
      downloadUri: `${base}/${repo}${itemPath}`,
      mimeType: 'application/octet-stream',
      size: String(st.size),
      checksums: { sha1: m.sha1, md5: m.md5, sha256: m.sha256 },
      originalChecksums: { sha1: m.sha1, md5: m.md5, sha256: m.sha256 },
      uri: `${base}/api/storage/${repo}${itemPath}`,
    });
  };

  const handleGet = async (req: IncomingMessage, res: ServerResponse, relPath: string, file: string) => {
    const headOnly = req.method === 'HEAD';
    const st = await stat(file).catch(() => undefined);
    if (!st) return sendError(res, 404, 'Could not find resource');
    if (st.isDirectory()) return sendError(res, 400, 'Expected a file, got a folder');
    if (!headOnly) contentGets += 1;
    const m = await metaOf(relPath, file, st.birthtime);
    const size = st.size;
    const headers: Record<string, string | number> = {
      'Content-Type': 'application/octet-stream',
      'Accept-Ranges': 'bytes',
      'Last-Modified': st.mtime.toUTCString(),
      ETag: m.sha1,
      'X-Checksum-Sha1': m.sha1,
      'X-Checksum-Sha256': m.sha256,
      'X-Checksum-Md5': m.md5,
      'X-Artifactory-Filename': posix.basename(relPath),
    };
    let start = 0;
    let end = size - 1;
    let status = 200;
    const range = req.headers.range;
    if (range) {
      const match = /^bytes=(\d*)-(\d*)$/.exec(range.trim());
      if (match && (match[1] !== '' || match[2] !== '')) {
        if (match[1] === '') {
          start = Math.max(0, size - Number(match[2]));
        } else {
          start = Number(match[1]);
          if (match[2] !== '') end = Math.min(Number(match[2]), size - 1);
        }
        if (start >= size || start > end) {
          res.writeHead(416, { 'Content-Range': `bytes */${size}`, 'Content-Length': 0 });
          return res.end();
        }
        status = 206;
        headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
      }
      // A malformed or multi-range header is ignored: the whole file (200), as HTTP allows.
    }
    headers['Content-Length'] = size === 0 ? 0 : end - start + 1;
    res.writeHead(status, headers);
    if (headOnly || size === 0) return res.end();
    await pipeline(createReadStream(file, { start, end }), res);
  };

  const handlePut = async (req: IncomingMessage, res: ServerResponse, relPath: string, file: string) => {
    const existing = await stat(file).catch(() => undefined);
    if (existing?.isDirectory()) return sendError(res, 409, 'A folder exists at this path');
    await mkdir(dirname(file), { recursive: true });
    const tmp = join(dirname(file), `.ferry-standin-upload-${process.pid}-${++tmpCounter}`);
    const h1 = createHash('sha1');
    const h256 = createHash('sha256');
    const h5 = createHash('md5');
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      h1.update(c);
      h256.update(c);
      h5.update(c);
    });
    try {
      await pipeline(req, createWriteStream(tmp));
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    const sums = { sha1: h1.digest('hex'), sha256: h256.digest('hex'), md5: h5.digest('hex') };
    const claims: Array<[string, string | string[] | undefined, string]> = [
      ['sha256', req.headers['x-checksum-sha256'], sums.sha256],
      ['sha1', req.headers['x-checksum-sha1'], sums.sha1],
      ['md5', req.headers['x-checksum'], sums.md5],
    ];
    for (const [kind, claimed, actual] of claims) {
      if (typeof claimed === 'string' && claimed.toLowerCase() !== actual) {
        await rm(tmp, { force: true });
        return sendError(
          res,
          409,
          `Checksum policy rejected the artifact: ${kind} checksum '${claimed}' does not match the actual '${actual}'`,
        );
      }
    }
    await rename(tmp, file);
    const created = new Date();
    meta.set(relPath, { ...sums, created });
    return sendJson(res, 201, {
      repo,
      path: `/${relPath}`,
      created: created.toISOString(),
      createdBy: 'ferry',
      downloadUri: `${base}/${repo}/${relPath}`,
      mimeType: req.headers['content-type'] ?? 'application/octet-stream',
      size: String(size),
      checksums: sums,
      originalChecksums: { sha256: sums.sha256 },
      uri: `${base}/${repo}/${relPath}`,
    });
  };

  const handleDelete = async (res: ServerResponse, relPath: string, file: string) => {
    const st = await stat(file).catch(() => undefined);
    if (!st || file === repoDir) return sendError(res, 404, 'Could not locate artifact');
    await rm(file, { recursive: true, force: true });
    for (const key of [...meta.keys()]) {
      if (key === relPath || key.startsWith(`${relPath}/`)) meta.delete(key);
    }
    res.writeHead(204);
    res.end();
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', base);
    const prefix = '/artifactory/';
    if (!url.pathname.startsWith(prefix)) return sendError(res, 404, 'Not found');
    if (!authorized(req)) {
      res.setHeader('WWW-Authenticate', 'Basic realm="Artifactory Realm"');
      // Drain a rejected upload so the client reads our answer instead of a reset.
      req.resume();
      return sendError(res, 401, 'Bad credentials');
    }
    const rest = decodeURIComponent(url.pathname.slice(prefix.length));
    if (rest.startsWith('api/storage/')) {
      if (req.method !== 'GET') return sendError(res, 405, 'Method not allowed');
      return handleStorage(res, url, rest.slice('api/storage/'.length));
    }
    const [reqRepo = '', ...parts] = rest.split('/');
    if (reqRepo !== repo) {
      req.resume();
      return sendError(res, 404, `Repository ${reqRepo} not found`);
    }
    const relPath = parts.filter(Boolean).join('/');
    const file = fileOf(relPath);
    if (!file || (relPath === '' && req.method !== 'GET')) {
      req.resume();
      return sendError(res, 400, 'Invalid path');
    }
    switch (req.method) {
      case 'GET':
      case 'HEAD':
        return handleGet(req, res, relPath, file);
      case 'PUT':
        return handlePut(req, res, relPath, file);
      case 'DELETE':
        return handleDelete(res, relPath, file);
      default:
        req.resume();
        return sendError(res, 405, 'Method not allowed');
    }
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendError(res, 500, err instanceof Error ? err.message : String(err));
      else res.destroy();
    });
  });
  server.requestTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: LOOPBACK, port }, () => resolve());
  });

  return {
    url: base,
    repo,
    token,
    dir,
    get requests() {
      return contentGets;
    },
    stop: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
