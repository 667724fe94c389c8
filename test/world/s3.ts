/**
 * s3rver (a real S3 REST server that keeps objects on disk) in this process, on a free
 * loopback port with a temp dir, the bucket created. Clients use @aws-sdk/client-s3 against it
 * exactly as against MinIO or AWS: path-style, region us-east-1, keys S3RVER/S3RVER.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStore, type ObjectStore, Secret } from '@ferry/shared';
import S3rver from 's3rver';
import { freePort, LOOPBACK } from './ports.js';
import { installListV2Paging } from './s3rver-list-v2.js';

export interface S3Handle {
  /** `http://127.0.0.1:PORT` */
  endpoint: string;
  port: number;
  bucket: string;
  region: 'us-east-1';
  /** s3rver's fixed credentials (it checks signatures with them). */
  accessKeyId: 'S3RVER';
  secretAccessKey: 'S3RVER';
  /** Where s3rver keeps the buckets. */
  dir: string;
  /** Close the server; the dir is kept so restart() finds the objects again. */
  stop(): Promise<void>;
  /** Stop (if running) and start again on the same port and dir. */
  restart(): Promise<void>;
  /** Stop and delete the dir. */
  destroy(): Promise<void>;
}

export async function startS3(opts: { bucket?: string } = {}): Promise<S3Handle> {
  const bucket = opts.bucket ?? 'images';
  const dir = await mkdtemp(join(tmpdir(), 'ferry-s3-'));
  const port = await freePort();
  let server: S3rver | undefined;

  const start = async () => {
    installListV2Paging();
    const s = new S3rver({
      address: LOOPBACK,
      port,
      directory: dir,
      silent: true,
      // Path-style only: `http://127.0.0.1:PORT/bucket/key`.
      vhostBuckets: false,
      configureBuckets: [{ name: bucket }],
    });
    // First, before s3rver's router: the two multipart calls it lacks (answered as S3 does).
    s.middleware.unshift(multipartExtras(dir));
    await s.run();
    // Long uploads through slow proxies: do not let node's default request timeouts cut them.
    if (s.httpServer) s.httpServer.requestTimeout = 0;
    server = s;
  };
  const stop = async () => {
    const s = server;
    server = undefined;
    if (!s) return;
    s.httpServer?.closeAllConnections();
    await s.close();
  };

  await start();
  return {
    endpoint: `http://${LOOPBACK}:${port}`,
    port,
    bucket,
    region: 'us-east-1',
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    dir,
    stop,
    restart: async () => {
      await stop();
      await start();
    },
    destroy: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Where s3rver 3.7 keeps a bucket's unfinished multipart uploads (one directory per upload id). */
function uploadsDir(dir: string, bucket: string): string {
  return join(dir, bucket, '._S3rver_uploads');
}

interface KoaLikeContext {
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  status: number;
  body: unknown;
  type: string;
}

const xmlText = (s: string) => s.replace(/[<>&'"]/g, (c) => `&#${c.charCodeAt(0)};`);

/**
 * s3rver 3.7 answers AbortMultipartUpload (DELETE ?uploadId) with 405 and ListMultipartUploads
 * (GET ?uploads) with NotImplemented, so an aborted upload's parts would stay on its disk and no
 * test could list them. These two handlers do what S3 does, on s3rver's own upload directories.
 */
function multipartExtras(dir: string) {
  return async (ctx: KoaLikeContext, next: () => Promise<void>): Promise<void> => {
    const [, bucket, ...rest] = ctx.path.split('/');
    const key = rest.filter(Boolean);
    const uploadId = ctx.query.uploadId;
    if (ctx.method === 'DELETE' && bucket && key.length > 0 && typeof uploadId === 'string') {
      if (!/^[0-9a-f]+$/.test(uploadId)) return next();
      await rm(join(uploadsDir(dir, bucket), uploadId), { recursive: true, force: true });
      ctx.status = 204;
      return;
    }
    if (ctx.method === 'GET' && bucket && key.length === 0 && 'uploads' in ctx.query) {
      const uploads: string[] = [];
      const ids = await readdir(uploadsDir(dir, bucket)).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return [];
        throw err;
      });
      for (const id of ids) {
        const key = await readFile(join(uploadsDir(dir, bucket), id, 'key'), 'utf8');
        uploads.push(`<Upload><Key>${xmlText(key)}</Key><UploadId>${id}</UploadId></Upload>`);
      }
      ctx.type = 'application/xml';
      ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult><Bucket>${xmlText(bucket)}</Bucket><IsTruncated>false</IsTruncated>${uploads.join('')}</ListMultipartUploadsResult>`;
      return;
    }
    return next();
  };
}

/** An `ObjectStore` on this s3rver, built from a config as an agent's would be. */
export function s3Store(
  handle: Pick<S3Handle, 'endpoint' | 'bucket' | 'region' | 'accessKeyId' | 'secretAccessKey'>,
): ObjectStore {
  return createStore({
    type: 's3',
    endpoint: handle.endpoint,
    bucket: handle.bucket,
    region: handle.region,
    forcePathStyle: true,
    insecure: false,
    accessKeyId: new Secret(handle.accessKeyId),
    secretAccessKey: new Secret(handle.secretAccessKey),
  });
}
