/**
 * Sidecars: the signed manifest of each image version, in the store next to its OVA. The store is
 * the source of truth; the KV catalog is an index rebuilt from these (store-discovery.ts).
 *
 * One sidecar per image version, `<artifact>.<name>@<version>.manifest.json`
 * (`imageSidecarPath`): `publish --from-store P --name B` and `retire B@…` never touch the
 * sidecar of another image registered from the same object P. Stores written by older releases
 * hold `<artifact>.manifest.json` (`sidecarPath`); it is still read, and trusted for the image
 * it names.
 */
import { Readable } from 'node:stream';
import {
  imageSidecarPath,
  type Manifest,
  NotFoundError,
  type ObjectStore,
  parseManifest,
  SchemaError,
  sidecarPath,
} from '@ferry/shared';

/** Every sidecar name (per version and the older one) ends so. */
export const SIDECAR_SUFFIX = '.manifest.json';

/** A sidecar is a few KiB; anything much larger is not one of ours. */
const MAX_SIDECAR_BYTES = 1024 * 1024;

type ImageId = Pick<Manifest, 'artifact' | 'name' | 'version'>;

/** This image version's own sidecar path. */
export function sidecarPathOf(m: ImageId): string {
  return imageSidecarPath(m.artifact, m.name, m.version);
}

/** Whether `path` may hold `m`'s sidecar: its own name, or the older one-per-object name. */
export function isSidecarPathOf(path: string, m: ImageId): boolean {
  return path === sidecarPathOf(m) || path === sidecarPath(m.artifact);
}

/**
 * The OVAs that have at least one sidecar among `paths` (a store listing). A sidecar path is
 * `<ova>.<anything>.manifest.json` or `<ova>.manifest.json`, where `<ova>` ends in `.ova`.
 */
export function ovasWithSidecars(paths: Iterable<string>): Set<string> {
  const owners = new Set<string>();
  for (const path of paths) {
    if (!path.endsWith(SIDECAR_SUFFIX)) continue;
    const lower = path.toLowerCase();
    for (let i = lower.indexOf('.ova.'); i >= 0; i = lower.indexOf('.ova.', i + 1)) {
      owners.add(path.slice(0, i + 4));
    }
  }
  return owners;
}

/** Writes the signed manifest to its own sidecar; returns the path. */
export async function writeSidecar(store: ObjectStore, manifest: Manifest): Promise<string> {
  const path = sidecarPathOf(manifest);
  const body = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, 'utf8');
  await store.put(path, Readable.from([body]), { size: body.length, contentType: 'application/json' });
  return path;
}

/** Reads and parses a sidecar (shape only, not the signature); undefined when there is none. */
export async function readSidecar(store: ObjectStore, path: string): Promise<Manifest | undefined> {
  let stream: Readable;
  try {
    stream = await store.get(path);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_SIDECAR_BYTES) {
      stream.destroy();
      throw new SchemaError(`sidecar ${path}`, [`larger than ${MAX_SIDECAR_BYTES} bytes`]);
    }
    chunks.push(chunk);
  }
  let json: unknown;
  try {
    json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new SchemaError(`sidecar ${path}`, [`not JSON: ${(err as Error).message}`]);
  }
  return parseManifest(json);
}

/** `name@version`'s sidecar for `artifact`: its own, else an older one-per-object sidecar that names it. */
export async function readImageSidecar(
  store: ObjectStore,
  artifact: string,
  name: string,
  version: string,
): Promise<Manifest | undefined> {
  const own = await readSidecar(store, imageSidecarPath(artifact, name, version));
  if (own) return own;
  const legacy = await readSidecar(store, sidecarPath(artifact));
  return legacy && legacy.name === name && legacy.version === version ? legacy : undefined;
}
