import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { S3Handle } from '../world/s3.js';
import type { VcsimHandle } from '../world/vcsim.js';

export interface AgentConfigSpec {
  dir: string;
  site: string;
  zone?: string;
  labels?: Record<string, string>;
  natsUrls?: string[];
  s3?: S3Handle;
  /** Overrides the S3 endpoint (e.g. a fault proxy in front of s3rver). */
  s3Endpoint?: string;
  vcsim: VcsimHandle;
  publicKeyFile: string;
  library?: string;
  concurrency?: { downloads: number; imports: number };
  extra?: Record<string, unknown>;
}

/** Writes a real agent YAML (secrets in files next to it) for a test site; returns its path. */
export async function writeAgentConfig(spec: AgentConfigSpec): Promise<string> {
  await mkdir(spec.dir, { recursive: true });
  const secret = (name: string, value: string) => writeFile(join(spec.dir, name), value, { mode: 0o600 });
  await secret('vcenter.pass', spec.vcsim.password);
  const config: Record<string, unknown> = {
    site: spec.site,
    zone: spec.zone ?? 'test',
    labels: spec.labels ?? {},
    nats: { servers: spec.natsUrls ?? ['nats://127.0.0.1:4222'] },
    store: spec.s3
      ? {
          type: 's3',
          endpoint: spec.s3Endpoint ?? spec.s3.endpoint,
          bucket: spec.s3.bucket,
          region: spec.s3.region,
          forcePathStyle: true,
          accessKeyIdFile: 'store.key-id',
          secretAccessKeyFile: 'store.secret',
        }
      : { type: 'file', root: join(spec.dir, 'store') },
    vsphere: {
      url: spec.vcsim.url,
      username: spec.vcsim.username,
      passwordFile: 'vcenter.pass',
      insecure: false,
      caFile: spec.vcsim.caFile,
      library: spec.library ?? 'golden-images',
      datastore: spec.vcsim.datastoreId,
    },
    cache: { dir: join(spec.dir, 'cache'), maxBytes: '20GiB' },
    concurrency: spec.concurrency ?? { downloads: 2, imports: 1 },
    trust: { publicKeys: [spec.publicKeyFile] },
    http: { listen: '127.0.0.1:0' },
    ...spec.extra,
  };
  if (spec.s3) {
    await secret('store.key-id', spec.s3.accessKeyId);
    await secret('store.secret', spec.s3.secretAccessKey);
  }
  const file = join(spec.dir, `${spec.site}.yaml`);
  await writeFile(file, stringify(config));
  return file;
}
