import { Readable } from 'node:stream';
import { type Manifest, NotFoundError, type ObjectStore, parseManifest, SchemaError, sidecarPath } from '@ferry/shared';

/** A sidecar is a few KiB; anything much larger is not one of ours. */
const MAX_SIDECAR_BYTES = 1024 * 1024;

/** Writes the signed manifest next to its artifact (`<artifact>.manifest.json`): the store is the source of truth. */
export async function writeSidecar(store: ObjectStore, manifest: Manifest): Promise<string> {
  const path = sidecarPath(manifest.artifact);
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
