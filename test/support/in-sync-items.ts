import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { type Catalog, mapLimit, type SigningKey, signManifest } from '@ferry/shared';
import { type ContentLibraryClient, formatMarker } from '@ferry/site-agent/internal';

/**
 * `count` signed catalog entries targeted at `site`, and for each a library item that is in
 * sync with it (ferry's marker, its one small file uploaded): what a reconcile pass at scale
 * reads and keeps. Items are `img<i>-1`.
 */
export async function seedInSyncItems(options: {
  count: number;
  site: string;
  catalog: Catalog;
  key: SigningKey;
  library: ContentLibraryClient;
  libraryId: string;
}): Promise<void> {
  const { count, site, catalog, key, library, libraryId } = options;
  const ovf = Buffer.from('<Envelope/>');
  const sha = createHash('sha256').update(ovf).digest('hex');
  await mapLimit(
    Array.from({ length: count }, (_, i) => i),
    8,
    async (i) => {
      const manifest = signManifest(
        {
          schema: 'ferry/manifest/v1',
          name: `img${i}`,
          version: '1',
          artifact: `img${i}/1/img${i}.ova`,
          sha256: sha,
          size: 2048,
          files: [{ name: `img${i}.ovf`, size: ovf.length, sha256: sha }],
          targets: [site],
          labels: {},
          publishedAt: '2026-11-21T00:00:00Z',
        },
        key,
      );
      await catalog.put(manifest);
      const itemId = await library.createItem(libraryId, {
        name: `img${i}-1`,
        description: formatMarker({ name: manifest.name, version: '1', sha256: sha }),
      });
      const session = await library.openUpdateSession(itemId);
      const url = await session.addFile({ name: `img${i}.ovf`, size: ovf.length });
      await session.upload(url, new PassThrough().end(ovf), ovf.length);
      await session.complete();
    },
  );
}
