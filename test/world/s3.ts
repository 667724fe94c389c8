/**
 * s3rver (a real S3 REST server that keeps objects on disk) in this process, on a free
 * loopback port with a temp dir, the bucket created. Clients use @aws-sdk/client-s3 against it
 * exactly as against MinIO or AWS: path-style, region us-east-1, keys S3RVER/S3RVER.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStore, type ObjectStore, Secret } from '@ferry/shared';
import S3rver from 's3rver';
import { freePort, LOOPBACK } from './ports.js';

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
    const s = new S3rver({
      address: LOOPBACK,
      port,
      directory: dir,
      silent: true,
      // Path-style only: `http://127.0.0.1:PORT/bucket/key`.
      vhostBuckets: false,
      configureBuckets: [{ name: bucket }],
    });
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
