/**
 * ferry's marker in a library item's description: how ferry knows its own items
 * (and leaves everyone else's alone) and what they hold.
 *
 *   Managed by ferry; do not edit this line. ferry:{"name":"ubuntu","version":"2026.11.21","sha256":"…"}
 */
export interface ItemMarker {
  name: string;
  version: string;
  sha256: string;
  publishedAt?: string;
  /** Set while an import is under way: the item's files are not yet complete. */
  importing?: boolean;
  /** Set while a deploy check runs on the item: a crash leaves it, and the check runs again. */
  checking?: boolean;
  /** The item's deploy check failed: reconcile does not call it good nor re-import it (republish to retry). */
  checkFailed?: boolean;
}

const TAG = 'ferry:';

export function formatMarker(marker: ItemMarker): string {
  const body: ItemMarker = { name: marker.name, version: marker.version, sha256: marker.sha256 };
  if (marker.publishedAt) body.publishedAt = marker.publishedAt;
  if (marker.importing) body.importing = true;
  if (marker.checking) body.checking = true;
  if (marker.checkFailed) body.checkFailed = true;
  return `Managed by ferry; do not edit this line. ${TAG}${JSON.stringify(body)}`;
}

export function parseMarker(description: string | undefined): ItemMarker | undefined {
  if (!description) return undefined;
  const at = description.lastIndexOf(TAG);
  if (at === -1) return undefined;
  try {
    const value = JSON.parse(description.slice(at + TAG.length)) as Partial<ItemMarker>;
    if (typeof value.name !== 'string' || typeof value.version !== 'string' || typeof value.sha256 !== 'string') {
      return undefined;
    }
    const marker: ItemMarker = { name: value.name, version: value.version, sha256: value.sha256 };
    if (typeof value.publishedAt === 'string') marker.publishedAt = value.publishedAt;
    if (value.importing === true) marker.importing = true;
    if (value.checking === true) marker.checking = true;
    if (value.checkFailed === true) marker.checkFailed = true;
    return marker;
  } catch {
    return undefined;
  }
}
