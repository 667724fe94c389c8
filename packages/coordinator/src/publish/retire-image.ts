import {
  type Catalog,
  type EventBus,
  type Manifest,
  type ObjectStore,
  type PublishedEvent,
  parseManifest,
  type SigningKey,
  signManifest,
} from '@ferry/shared';
import { ImageNotFoundError } from '../errors.js';
import { parseExactRef } from './republish-image.js';
import { writeSidecar } from './sidecar.js';

export interface RetireResult {
  status: 'retired' | 'already-retired';
  manifest: Manifest;
  event?: PublishedEvent;
}

/**
 * `ferry retire N@V`: re-signs the manifest with `retiredAt`, writes it to the sidecar and the
 * catalog, and announces a `retired` event on `all` (agents delete the library item).
 */
export async function retireImage(
  deps: { catalog: Catalog; bus: EventBus; store: ObjectStore; signingKey(): Promise<SigningKey> },
  ref: string,
): Promise<RetireResult> {
  const { name, version } = parseExactRef(ref);
  const current = await deps.catalog.get(name, version);
  if (!current) throw new ImageNotFoundError(name, version);
  if (current.retiredAt) return { status: 'already-retired', manifest: current };
  const { signature: _signature, keyId: _keyId, ...unsigned } = current;
  const manifest = parseManifest(
    signManifest({ ...unsigned, retiredAt: new Date().toISOString() }, await deps.signingKey()),
  );
  await writeSidecar(deps.store, manifest);
  await deps.catalog.put(manifest);
  const event = await deps.bus.publish(
    'all',
    { kind: 'retired', manifest },
    `${name}@${version}:${manifest.sha256}:retired`,
  );
  return { status: 'retired', manifest, event };
}
