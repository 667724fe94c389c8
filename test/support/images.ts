import { createPrivateKey } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import {
  generateSigningKeyPair,
  type Manifest,
  type ObjectStore,
  type SigningKey,
  sidecarPath,
  signManifest,
} from '@ferry/shared';
import type { BuiltOva } from '../world/ova.js';

export interface TestKey extends SigningKey {
  publicKeyFile: string;
  privateKeyFile: string;
}

/** A fresh ed25519 signing key with its PEM files in `dir`. */
export async function makeTestKey(dir: string, name = 'release'): Promise<TestKey> {
  const pair = generateSigningKeyPair();
  const publicKeyFile = join(dir, `${name}.pub`);
  const privateKeyFile = join(dir, `${name}.key`);
  await writeFile(publicKeyFile, pair.publicKeyPem);
  await writeFile(privateKeyFile, pair.privateKeyPem, { mode: 0o600 });
  return { keyId: pair.keyId, privateKey: createPrivateKey(pair.privateKeyPem), publicKeyFile, privateKeyFile };
}

export interface StageOptions {
  name: string;
  version: string;
  targets?: string[];
  labels?: Record<string, string>;
  publishedAt?: string;
}

/**
 * Puts an OVA and its signed sidecar in a store, as `ferry publish` would, without
 * NATS: for tests of the agent's data path. Returns the signed manifest.
 */
export async function stageImage(
  store: ObjectStore,
  key: SigningKey,
  ova: BuiltOva,
  opts: StageOptions,
): Promise<Manifest> {
  const artifact = `${opts.name}/${opts.version}/${basename(ova.path)}`;
  await store.put(artifact, createReadStream(ova.path), { size: ova.size, sha256: ova.sha256 });
  const manifest = signManifest(
    {
      schema: 'ferry/manifest/v1',
      name: opts.name,
      version: opts.version,
      artifact,
      sha256: ova.sha256,
      size: ova.size,
      files: ova.files,
      targets: opts.targets ?? ['*'],
      labels: opts.labels ?? {},
      publishedAt: opts.publishedAt ?? new Date().toISOString(),
    },
    key,
  );
  await store.put(sidecarPath(artifact), Readable.from([Buffer.from(JSON.stringify(manifest, null, 2))]));
  return manifest;
}
