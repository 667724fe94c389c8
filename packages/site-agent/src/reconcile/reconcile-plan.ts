import { type Manifest, type SiteIdentity, targetsSite } from '@ferry/shared';
import type { ItemMarker } from '../transfer/item-marker.js';

/** A library item as the reconciler sees it. */
export interface ActualItem {
  id: string;
  name: string;
  /** ferry's marker from the description; undefined: not ferry's, never touched. */
  marker?: ItemMarker;
  /** Files with sizes, when they were listed (only for items that are otherwise in sync). */
  files?: ReadonlyArray<{ name: string; size: number; checksum?: { algorithm: string; checksum: string } }>;
}

export type ReconcileAction =
  | { kind: 'import'; manifest: Manifest; reason: string }
  | { kind: 'reimport'; manifest: Manifest; itemId: string; reason: string }
  | { kind: 'delete'; itemId: string; itemName: string; marker: ItemMarker; reason: string }
  | { kind: 'keep'; manifest: Manifest; itemId: string }
  | { kind: 'ignore'; itemId: string; itemName: string; reason: string };

export interface ReconcileInput {
  site: SiteIdentity;
  /** Every catalog entry, retired ones included. */
  catalog: readonly Manifest[];
  items: readonly ActualItem[];
  keepVersions: number;
  prune: boolean;
  /** Library item name of an image version (the `vsphere.itemName` template). */
  itemName: (m: Pick<Manifest, 'name' | 'version'>) => string;
  /** Why an image may not come to this site yet (its rollout wave is not released); undefined: it may. */
  heldBack?: (m: Manifest) => string | undefined;
}

const ref = (name: string, version: string) => `${name}@${version}`;

/**
 * What one reconcile pass must do, as a pure function of the catalog and the library:
 * import what is desired and missing; re-import what differs, is unfinished, or has
 * missing or short files; delete (with prune) ferry's items of retired versions and of
 * versions beyond retention; never touch items ferry did not create, nor ferry items
 * of images the catalog does not know (a lost catalog must not empty the library).
 */
export function planReconcile(input: ReconcileInput): ReconcileAction[] {
  const { site, catalog, items, keepVersions, prune } = input;
  const byRef = new Map(catalog.map((m) => [ref(m.name, m.version), m]));

  // Desired: per name, the newest `keepVersions` non-retired versions that target this site and
  // that their rollout has released here (a held version does not push older ones out of retention).
  const held = new Map<string, string>();
  const live = catalog.filter((m) => {
    if (m.retiredAt || !targetsSite(m.targets, site)) return false;
    const why = input.heldBack?.(m);
    if (why) held.set(ref(m.name, m.version), why);
    return !why;
  });
  const byName = new Map<string, Manifest[]>();
  for (const m of live) byName.set(m.name, [...(byName.get(m.name) ?? []), m]);
  const desired = new Map<string, Manifest>();
  for (const versions of byName.values()) {
    versions.sort((a, b) => b.publishedAt.localeCompare(a.publishedAt) || b.version.localeCompare(a.version));
    for (const m of versions.slice(0, keepVersions)) desired.set(ref(m.name, m.version), m);
  }
  const beyondRetention = new Set(live.map((m) => ref(m.name, m.version)).filter((r) => !desired.has(r)));

  const actions: ReconcileAction[] = [];
  const present = new Set<string>();
  for (const item of items) {
    if (!item.marker) {
      actions.push({ kind: 'ignore', itemId: item.id, itemName: item.name, reason: 'not created by ferry' });
      continue;
    }
    const key = ref(item.marker.name, item.marker.version);
    const want = desired.get(key);
    if (want) {
      if (item.name !== input.itemName(want)) {
        actions.push({
          kind: 'ignore',
          itemId: item.id,
          itemName: item.name,
          reason: 'ferry marker on an item with another name',
        });
        continue;
      }
      present.add(key);
      const rollback =
        item.marker.publishedAt !== undefined &&
        item.marker.sha256 !== want.sha256 &&
        want.publishedAt < item.marker.publishedAt;
      if (rollback) {
        // The catalog went back to an older manifest than the library holds: never roll back by itself.
        actions.push({
          kind: 'ignore',
          itemId: item.id,
          itemName: item.name,
          reason: `rollback refused: the catalog's manifest (${want.publishedAt}) is older than the item's (${item.marker.publishedAt})`,
        });
        continue;
      }
      const check = checkAction(want, item);
      if (check) {
        actions.push(check);
        continue;
      }
      const reason = driftReason(want, item);
      actions.push(
        reason
          ? { kind: 'reimport', manifest: want, itemId: item.id, reason }
          : { kind: 'keep', manifest: want, itemId: item.id },
      );
      continue;
    }
    const heldWhy = held.get(key);
    if (heldWhy) {
      actions.push({ kind: 'ignore', itemId: item.id, itemName: item.name, reason: heldWhy });
      continue;
    }
    const known = byRef.get(key);
    const why = !known
      ? undefined
      : known.retiredAt
        ? 'retired'
        : beyondRetention.has(key)
          ? `beyond retention (keepVersions ${keepVersions})`
          : undefined;
    if (why && prune)
      actions.push({ kind: 'delete', itemId: item.id, itemName: item.name, marker: item.marker, reason: why });
    else
      actions.push({
        kind: 'ignore',
        itemId: item.id,
        itemName: item.name,
        reason: why ? `${why}, prune is off` : known ? 'not targeted at this site' : 'not in the catalog',
      });
  }
  for (const [key, m] of desired) {
    if (!present.has(key)) actions.push({ kind: 'import', manifest: m, reason: 'missing from the library' });
  }
  return actions;
}

/**
 * An item of the wanted bytes whose deploy check failed is not good, and not re-imported either
 * (the same bytes would fail again): republish to retry. One whose check did not finish (the
 * agent stopped) is asked for again without force: the import is skipped and the check runs.
 */
function checkAction(want: Manifest, item: ActualItem): ReconcileAction | undefined {
  const marker = item.marker!;
  if (marker.sha256 !== want.sha256 || marker.importing) return undefined;
  if (marker.checkFailed) {
    return {
      kind: 'ignore',
      itemId: item.id,
      itemName: item.name,
      reason: 'its deploy check failed (DEPLOY_CHECK_FAILED): republish to retry',
    };
  }
  if (marker.checking) return { kind: 'import', manifest: want, reason: 'a deploy check did not finish' };
  return undefined;
}

function driftReason(want: Manifest, item: ActualItem): string | undefined {
  const marker = item.marker!;
  if (marker.importing) return 'an import did not finish';
  if (marker.sha256 !== want.sha256)
    return `holds sha256 ${marker.sha256.slice(0, 12)}, catalog has ${want.sha256.slice(0, 12)}`;
  if (!item.files) return undefined;
  const have = new Map(item.files.map((f) => [f.name, f]));
  for (const f of want.files) {
    const file = have.get(f.name);
    if (file === undefined) return `file ${f.name} is missing`;
    if (file.size !== f.size) return `file ${f.name} is ${file.size} bytes, expected ${f.size}`;
    // Where the vCenter reports a SHA-256 of the stored file, same-size changes show too.
    const sum = file.checksum;
    if (sum && sum.algorithm.toUpperCase() === 'SHA256' && sum.checksum.toLowerCase() !== f.sha256) {
      return `file ${f.name} has other bytes (sha256 ${sum.checksum.slice(0, 12)})`;
    }
  }
  return undefined;
}

export function countActions(actions: readonly ReconcileAction[]): Record<ReconcileAction['kind'], number> {
  const counts = { import: 0, reimport: 0, delete: 0, keep: 0, ignore: 0 };
  for (const a of actions) counts[a.kind]++;
  return counts;
}
