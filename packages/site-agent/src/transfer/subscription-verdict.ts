/**
 * The decisions of Content Library subscriptions, as pure functions: what to do with the target
 * library, and whether a subscribed item holds what its source holds.
 */
import type { LibraryFileInfo } from '../vcenter/content-library-client.js';
import type { LibraryInfo } from './subscription-api.js';

/** A file the subscribed item must hold: its name, size and, where known, checksum. */
export interface ExpectedFile {
  name: string;
  size: number;
  /** e.g. { algorithm: 'SHA256', checksum: '<hex>' }; compared where vCenter reports the same algorithm. */
  checksum?: { algorithm: string; checksum: string };
}

export type SubscribedItemState = 'missing' | 'incomplete' | 'ok';

export interface SubscribedItemVerdict {
  state: SubscribedItemState;
  /** Expected files the item does not hold yet (absent, or known but not cached). */
  missingFiles: string[];
  /** Files held with the wrong size or checksum, each with the reason. */
  wrongFiles: string[];
  /** Bytes of the expected files held correctly: the sync's progress. */
  bytes: number;
  totalBytes: number;
}

/** What ensureSubscription must do with the target library. */
export type SubscriptionPlan =
  | { action: 'create' }
  | { action: 'keep' }
  | { action: 'update'; reason: string }
  | { action: 'conflict'; reason: string };

/** Judge a subscribed item's files (undefined: no such item) against the expected ones. */
export function judgeSubscribedItem(
  expected: readonly ExpectedFile[],
  actual: readonly LibraryFileInfo[] | undefined,
): SubscribedItemVerdict {
  const totalBytes = expected.reduce((n, f) => n + f.size, 0);
  if (actual === undefined) {
    return { state: 'missing', missingFiles: expected.map((f) => f.name), wrongFiles: [], bytes: 0, totalBytes };
  }
  const byName = new Map(actual.map((f) => [f.name, f]));
  const missingFiles: string[] = [];
  const wrongFiles: string[] = [];
  let bytes = 0;
  for (const want of expected) {
    const have = byName.get(want.name);
    // `cached: false` is a file vCenter knows of from the publisher but has not downloaded.
    if (have === undefined || have.cached === false) {
      missingFiles.push(want.name);
      continue;
    }
    if (have.size !== want.size) {
      wrongFiles.push(`${want.name} (${have.size} bytes, expected ${want.size})`);
      continue;
    }
    const sum = checksumMismatch(want, have);
    if (sum !== undefined) {
      wrongFiles.push(`${want.name} (${sum})`);
      continue;
    }
    bytes += want.size;
  }
  const state = missingFiles.length === 0 && wrongFiles.length === 0 ? 'ok' : 'incomplete';
  return { state, missingFiles, wrongFiles, bytes, totalBytes };
}

function checksumMismatch(want: ExpectedFile, have: LibraryFileInfo): string | undefined {
  if (!want.checksum || !have.checksum) return undefined;
  if (want.checksum.algorithm.toUpperCase() !== have.checksum.algorithm.toUpperCase()) return undefined;
  if (want.checksum.checksum.toLowerCase() === have.checksum.checksum.toLowerCase()) return undefined;
  return `${have.checksum.algorithm} ${have.checksum.checksum}, expected ${want.checksum.checksum}`;
}

/**
 * Decide what to do with the library named like the target (undefined: none) so that it is a
 * subscribed library of `publishUrl` that downloads content on sync. A library of another type
 * is never converted.
 */
export function planSubscription(target: LibraryInfo | undefined, publishUrl: string): SubscriptionPlan {
  if (target === undefined) return { action: 'create' };
  if (target.type !== 'SUBSCRIBED') {
    return {
      action: 'conflict',
      reason: `library ${JSON.stringify(target.name)} exists and is a ${target.type} library, not a subscribed one`,
    };
  }
  const sub = target.subscription ?? {};
  const url = sub.subscriptionUrl;
  if (url === undefined || trimSlash(url) !== trimSlash(publishUrl)) {
    return { action: 'update', reason: `it subscribes to ${url ?? 'nothing'}, not ${publishUrl}` };
  }
  if (sub.onDemand === true) return { action: 'update', reason: 'it downloads content on demand only' };
  if (sub.automaticSyncEnabled === false) return { action: 'update', reason: 'its automatic sync is off' };
  return { action: 'keep' };
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}
