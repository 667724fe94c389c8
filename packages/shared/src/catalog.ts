import type { KV } from '@nats-io/kv';
import { MessagingError, SchemaError } from './errors.js';
import { listKeys } from './kv-keys.js';
import { type Manifest, parseManifest } from './manifest.js';
import { catalogKey, parseCatalogKey } from './nats-names.js';

/** The `ferry_catalog` bucket: signed manifests by `<name>.<version>`. An index; the store's sidecars are the truth. */
export class Catalog {
  constructor(readonly kv: KV) {}

  async get(name: string, version: string): Promise<Manifest | undefined> {
    const entry = await this.kv.get(catalogKey(name, version)).catch((err: unknown) => {
      throw new MessagingError(`cannot read catalog entry ${name}@${version}: ${(err as Error).message}`, {
        cause: err,
      });
    });
    if (entry?.operation !== 'PUT' || entry.length === 0) return undefined;
    return parseManifest(entry.json());
  }

  async put(manifest: Manifest): Promise<void> {
    try {
      await this.kv.put(catalogKey(manifest.name, manifest.version), JSON.stringify(manifest));
    } catch (err) {
      throw new MessagingError(
        `cannot write catalog entry ${manifest.name}@${manifest.version}: ${(err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  /** Every manifest in the catalog; entries that do not parse are reported, not thrown. */
  async list(onInvalid?: (key: string, err: Error) => void): Promise<Manifest[]> {
    const out: Manifest[] = [];
    const keys = await listKeys(this.kv, 'the catalog');
    await Promise.all(
      keys.map(async (key) => {
        const parts = parseCatalogKey(key);
        if (!parts) return;
        try {
          const m = await this.get(parts.name, parts.version);
          if (m) out.push(m);
        } catch (err) {
          if (err instanceof SchemaError) onInvalid?.(key, err);
          else throw err;
        }
      }),
    );
    return out.sort((a, b) => a.name.localeCompare(b.name) || a.publishedAt.localeCompare(b.publishedAt));
  }
}
