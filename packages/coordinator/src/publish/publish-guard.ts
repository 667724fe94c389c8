/**
 * A failed `ferry publish FILE` never reaches a site.
 *
 * Store discovery registers OVAs it finds without a sidecar (Packer pushed them), so an object a
 * failed publish left behind would be announced minutes later. Two guards:
 *
 * 1. An in-progress marker `<artifact>.ferry-publishing` is written BEFORE the upload starts and
 *    removed only once the publish is announced (or fully undone). Discovery leaves an OVA (and its
 *    sidecars) alone while the marker exists. Why a marker and not an upload key renamed on
 *    success: S3 has no rename (a server-side copy of objects over 5 GiB needs a multipart copy and
 *    moves every byte again), Artifactory's move is a separate Pro API, and the file store already
 *    renames its own temp file; a marker needs only `put` and `delete`, which every store has, and
 *    writing it first is also the probe that the store is writable. A publish killed with -9
 *    leaves the marker, so its object stays unannounced (and the marker names who left it).
 * 2. On any failure after the object was committed (signing, sidecar, catalog, event, Ctrl-C), the
 *    object, the sidecar, the rollout state and the catalog entry this publish wrote are removed
 *    again (`undo`; a replaced version's rollout state is put back).
 */
import { hostname } from 'node:os';
import { Readable } from 'node:stream';
import { catalogKey, describeError, type Logger, type Manifest, type ObjectStore } from '@ferry/shared';
import type { RolloutBegun } from '../rollout/rollout-start.js';
import type { PublishDeps } from './publish-image.js';
import { sidecarPathOf } from './sidecar.js';

export const PUBLISH_MARKER_SUFFIX = '.ferry-publishing';

export function publishMarkerPath(artifact: string): string {
  return `${artifact}${PUBLISH_MARKER_SUFFIX}`;
}

/** The artifact a marker path guards, or undefined when `path` is no marker. */
export function markedArtifact(path: string): string | undefined {
  return path.endsWith(PUBLISH_MARKER_SUFFIX) ? path.slice(0, -PUBLISH_MARKER_SUFFIX.length) : undefined;
}

/** Why discovery leaves an OVA with a marker alone (the same words in the log and the report). */
export function unfinishedPublishReason(artifact: string): string {
  return `a ferry publish of ${artifact} is running or did not finish (${publishMarkerPath(artifact)} exists): publish it again, or delete the marker to let discovery register the object`;
}

/** Writes the marker; fails (before any byte of the OVA is sent) when the store is not writable. */
export async function writePublishMarker(
  store: ObjectStore,
  artifact: string,
  image: { name: string; version: string },
): Promise<void> {
  const body = Buffer.from(
    `${JSON.stringify({ schema: 'ferry/publish-marker/v1', ...image, host: hostname(), pid: process.pid, startedAt: new Date().toISOString() })}\n`,
  );
  await store.put(publishMarkerPath(artifact), Readable.from([body]), {
    size: body.length,
    contentType: 'application/json',
  });
}

/** What a publish has written so far, for `undo`. */
export interface PublishWrites {
  artifact: string;
  /** This publish wrote the marker (a `publish FILE`; not a registration from the store). */
  marker: boolean;
  /** The OVA was committed to the store. */
  object: boolean;
  /** The sidecar this manifest names was written. */
  sidecar?: Manifest;
  /** The rollout state was written (before the catalog entry). */
  rollout?: RolloutBegun;
  /** The catalog entry was written, replacing nothing. */
  newCatalogEntry?: Manifest;
}

/**
 * Removes what a failed publish wrote, then the marker. The marker stays when the object could
 * not be removed, so discovery still leaves it alone. Never throws: the publish's own error is
 * the one the operator sees; each step that fails is logged.
 */
export async function undoPublish(deps: PublishDeps, writes: PublishWrites, log: Logger | undefined): Promise<void> {
  const step = async (what: string, fn: () => Promise<unknown>): Promise<boolean> => {
    try {
      await fn();
      return true;
    } catch (err) {
      log?.error({ artifact: writes.artifact, err: describeError(err).message }, `cannot remove ${what}`);
      return false;
    }
  };
  const entry = writes.newCatalogEntry;
  if (entry) await step('the catalog entry', () => deps.catalog.kv.delete(catalogKey(entry.name, entry.version)));
  const rollout = writes.rollout;
  if (rollout) await step('the rollout record', () => rollout.undo());
  const sidecar = writes.sidecar;
  if (sidecar) await step('the sidecar', () => deps.store.delete(sidecarPathOf(sidecar)));
  const objectGone = !writes.object || (await step('the uploaded object', () => deps.store.delete(writes.artifact)));
  if (objectGone && writes.marker) {
    await step('the publish marker', () => deps.store.delete(publishMarkerPath(writes.artifact)));
  }
  log?.info({ artifact: writes.artifact, objectRemoved: writes.object && objectGone }, 'publish undone');
}
