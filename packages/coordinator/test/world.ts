/**
 * Per-test-file world for the coordinator: a real nats-server and a real s3rver on loopback, a
 * signing key, a coordinator config file, and `ferry` run in-process with captured output.
 */
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { type CoordinatorConfig, loadCoordinatorConfig, writeKeyPair } from '@ferry/shared';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { type NatsHandle, startNats } from '../../../test/world/nats.js';
import { type S3Handle, startS3 } from '../../../test/world/s3.js';
import { runCli } from '../src/index.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface World {
  dir: string;
  nats: NatsHandle;
  s3: S3Handle;
  configFile: string;
  env: Record<string, string>;
  nc: NatsConnection;
  s3client: S3Client;
  config(): Promise<CoordinatorConfig>;
  ferry(...args: string[]): Promise<CliRun>;
  /** Every key in the bucket. */
  listBucket(): Promise<string[]>;
  objectSha256(key: string): Promise<string>;
  streamMessages(): Promise<number>;
  catalogKeys(): Promise<string[]>;
  stop(): Promise<void>;
}

export interface WorldOptions {
  /** Extra YAML appended to the config (e.g. an http: section). */
  extraConfig?: string;
  env?: Record<string, string>;
}

function capture(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

export async function startWorld(options: WorldOptions = {}): Promise<World> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-coord-'));
  const [nats, s3] = await Promise.all([startNats(), startS3()]);
  await writeKeyPair(join(dir, 'keys', 'release'));
  const configFile = join(dir, 'ferry.yaml');
  await writeFile(
    configFile,
    [
      'nats:',
      `  servers: [${nats.url}]`,
      'store:',
      '  type: s3',
      `  endpoint: ${s3.endpoint}`,
      `  bucket: ${s3.bucket}`,
      '  region: us-east-1',
      '  forcePathStyle: true',
      'signing:',
      '  privateKeyFile: keys/release.key',
      'log: { level: error }',
      options.extraConfig ?? '',
    ].join('\n'),
  );
  const env: Record<string, string> = {
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    ...(options.env ?? {}),
  };
  const nc = await connect({ servers: nats.url });
  const s3client = new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  const world: World = {
    dir,
    nats,
    s3,
    configFile,
    env,
    nc,
    s3client,
    config: () => loadCoordinatorConfig(configFile, env),
    ferry: async (...args) => {
      const out = capture();
      const err = capture();
      const withConfig = args[0] === 'keygen' || args.includes('--config') || args.includes('--help');
      const code = await runCli([...args, ...(withConfig ? [] : ['--config', configFile])], {
        stdout: out.stream,
        stderr: err.stream,
        env,
      });
      return { code, stdout: out.text(), stderr: err.text() };
    },
    listBucket: async () => {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const page = await s3client.send(new ListObjectsV2Command({ Bucket: s3.bucket, ContinuationToken: token }));
        for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return keys.sort();
    },
    objectSha256: async (key) => {
      const out = await s3client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
      const h = createHash('sha256');
      for await (const chunk of out.Body as AsyncIterable<Uint8Array>) h.update(chunk);
      return h.digest('hex');
    },
    streamMessages: async () => {
      const jsm = await jetstreamManager(nc);
      try {
        return (await jsm.streams.info('FERRY_EVENTS')).state.messages;
      } catch {
        return 0;
      }
    },
    catalogKeys: async () => {
      const keys: string[] = [];
      try {
        const kv = await new Kvm(nc).open('ferry_catalog');
        for await (const k of await kv.keys()) keys.push(k);
      } catch {
        // No bucket yet: no keys.
      }
      return keys.sort();
    },
    stop: async () => {
      await nc.close().catch(() => undefined);
      s3client.destroy();
      await Promise.all([nats.destroy(), s3.destroy()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
  return world;
}
