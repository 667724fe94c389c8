/**
 * `ferry resign --key new.key [--all | N@V]`: signs existing manifests again with another key, in
 * the version's own sidecar in the store (the source of truth) and then the catalog. Only `keyId`
 * and `signature` change: the bytes (sha256), publishedAt and everything else stay, so agents keep their library
 * items (reconcile compares sha256) and the old key can then be removed from `trust.publicKeys`.
 */
import {
  type Catalog,
  describeError,
  loadSigningKey,
  type Manifest,
  type ObjectStore,
  parseManifest,
  type SigningKey,
  signManifest,
} from '@ferry/shared';
import { ImageNotFoundError, UsageError } from '../errors.js';
import { parseExactRef } from './republish-image.js';
import { writeSidecar } from './sidecar.js';

export interface ResignOptions {
  /** Private key file of the new key. */
  keyFile: string;
  /** `N@V`, or undefined with `all`. */
  ref?: string;
  all?: boolean;
}

export interface ResignResult {
  keyId: string;
  resigned: Array<{ name: string; version: string; fromKeyId: string }>;
  /** Already signed by this key: untouched. */
  unchanged: number;
  errors: Array<{ name: string; version: string; message: string }>;
}

export function resignManifest(manifest: Manifest, key: SigningKey): Manifest {
  const { signature: _signature, keyId: _keyId, ...unsigned } = manifest;
  return parseManifest(signManifest(unsigned, key));
}

export async function resignImages(
  deps: { catalog: Catalog; store: ObjectStore },
  options: ResignOptions,
): Promise<ResignResult> {
  if (options.all === !!options.ref) throw new UsageError('give either NAME@VERSION or --all');
  const key = await loadSigningKey(options.keyFile);
  let manifests: Manifest[];
  if (options.ref) {
    const { name, version } = parseExactRef(options.ref);
    const m = await deps.catalog.get(name, version);
    if (!m) throw new ImageNotFoundError(name, version);
    manifests = [m];
  } else {
    manifests = await deps.catalog.list();
  }
  const result: ResignResult = { keyId: key.keyId, resigned: [], unchanged: 0, errors: [] };
  for (const m of manifests) {
    if (m.keyId === key.keyId) {
      result.unchanged++;
      continue;
    }
    try {
      const next = resignManifest(m, key);
      await writeSidecar(deps.store, next);
      await deps.catalog.put(next);
      result.resigned.push({ name: m.name, version: m.version, fromKeyId: m.keyId });
    } catch (err) {
      result.errors.push({ name: m.name, version: m.version, message: describeError(err).message });
    }
  }
  return result;
}

export function formatResign(r: ResignResult): string {
  const lines = [`re-signed ${r.resigned.length} manifest(s) with key ${r.keyId}; ${r.unchanged} already signed by it`];
  for (const x of r.resigned) lines.push(`  ${x.name}@${x.version} (was ${x.fromKeyId})`);
  for (const e of r.errors) lines.push(`  error ${e.name}@${e.version}: ${e.message}`);
  if (r.resigned.length > 0 && r.errors.length === 0) {
    lines.push('agents accept the new signature once its public key is in trust.publicKeys; then drop the old key');
  }
  return `${lines.join('\n')}\n`;
}
