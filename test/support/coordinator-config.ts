import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { runCli } from '@ferry/coordinator';
import { stringify } from 'yaml';
import type { SiteWorld } from './site-world.js';

/** A coordinator YAML for the world's NATS and S3, signing with the world's key. */
export async function writeCoordinatorConfig(world: SiteWorld, extra: Record<string, unknown> = {}): Promise<string> {
  await writeFile(join(world.dir, 'coord-s3.id'), world.s3.accessKeyId);
  await writeFile(join(world.dir, 'coord-s3.secret'), world.s3.secretAccessKey);
  if (world.natsAuth) await writeFile(join(world.dir, 'coord-nats.pass'), world.natsAuth.password);
  const file = join(world.dir, 'coordinator.yaml');
  await writeFile(
    file,
    stringify({
      nats: world.natsAuth
        ? { servers: [world.nats.url], user: world.natsAuth.user, passwordFile: 'coord-nats.pass' }
        : { servers: [world.nats.url] },
      store: {
        type: 's3',
        endpoint: world.s3.endpoint,
        bucket: world.s3.bucket,
        region: world.s3.region,
        forcePathStyle: true,
        accessKeyIdFile: 'coord-s3.id',
        secretAccessKeyFile: 'coord-s3.secret',
      },
      signing: { privateKeyFile: world.key.privateKeyFile },
      http: { listen: '127.0.0.1:0' },
      ...extra,
    }),
  );
  return file;
}

/** Runs `ferry …` in this process; returns exit code and output. */
export async function ferry(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (d) => (out += d));
  stderr.on('data', (d) => (err += d));
  const code = await runCli(args, { stdout, stderr });
  return { code, out, err };
}
