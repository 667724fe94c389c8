import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import {
  assertImageName,
  assertVersion,
  type Catalog,
  ChecksumMismatchError,
  describeError,
  type EventBus,
  InvalidNameError,
  isSafeStorePath,
  type Logger,
  MANIFEST_SCHEMA,
  type Manifest,
  manifestSchema,
  NotFoundError,
  type ObjectStore,
  type OvaSummary,
  type PublishedEvent,
  parseManifest,
  publishedMsgId,
  type SigningKey,
  signManifest,
} from '@ferry/shared';
import { InputFileError, InterruptedError, PublishConflictError } from '../errors.js';
import type { RolloutHook } from '../rollout/rollout-start.js';
import { hashAndInspect, uploadAndInspect } from './ova-single-pass.js';
import { type PublishWrites, publishMarkerPath, undoPublish, writePublishMarker } from './publish-guard.js';
import { readImageSidecar, writeSidecar } from './sidecar.js';

/** What publishing needs from a coordinator context. */
export interface PublishDeps {
  store: ObjectStore;
  catalog: Catalog;
  bus: EventBus;
  signingKey(): Promise<SigningKey>;
  logger?: Logger;
  /** Rolls the image out in waves or holds it for approval instead of announcing it to every site. */
  rollout?: RolloutHook;
}

export interface PublishOptions {
  name: string;
  version: string;
  /** Target selectors; default `['*']`. */
  targets?: readonly string[];
  labels?: Readonly<Record<string, string>>;
  /** Accept different bytes for a name@version that is already published (sets `replaces`). */
  replace?: boolean;
}

export interface PublishFileOptions extends PublishOptions {
  file: string;
  /** Bytes read so far, and the file size. */
  onProgress?: (bytesRead: number, total: number) => void;
  /** Ctrl-C: aborts the upload and undoes whatever was written (nothing is announced). */
  signal?: AbortSignal;
}

export interface PublishFromStoreOptions extends PublishOptions {
  /** Path of the OVA inside the store. */
  path: string;
  /** A sha256 announced by someone else (Artifactory's webhook): must match the bytes. */
  expectedSha256?: string;
}

export interface PublishResult {
  /** `already-published`: the same bytes were published before; nothing changed. */
  status: 'published' | 'already-published';
  manifest: Manifest;
  /** Bytes read from the file (or store object): its size when it was read once. */
  bytesRead: number;
  /** Bytes uploaded to the store (0 for --from-store and no-ops). */
  bytesUploaded: number;
  event?: PublishedEvent;
  /** sha256 of the manifest this one replaced. */
  replaced?: string;
  /** The catalog lacked the entry and it was restored from the store's sidecar. */
  restoredFromSidecar?: boolean;
}

interface ValidatedRequest {
  name: string;
  version: string;
  targets: string[];
  labels: Record<string, string>;
}

const targetsSchema = manifestSchema.shape.targets;

/** Checks name, version and targets before anything is read or written; throws one clear error. */
export function validatePublishOptions(options: PublishOptions): ValidatedRequest {
  const name = assertImageName(options.name);
  const version = assertVersion(options.version);
  const targets = options.targets && options.targets.length > 0 ? [...new Set(options.targets)] : ['*'];
  for (const t of targets) {
    if (!targetsSchema.safeParse([t]).success) {
      throw new InvalidNameError('target', t, 'expected "*", a site id, "zone:<zone>" or "label:<key>=<value>"');
    }
  }
  return { name, version, targets, labels: { ...(options.labels ?? {}) } };
}

type Verdict = { kind: 'new' } | { kind: 'same'; existing: Manifest } | { kind: 'replace'; existing: Manifest };

/** Same name@version: same bytes are a no-op, other bytes need --replace. */
function judge(req: ValidatedRequest, existing: Manifest | undefined, sha256: string, replace: boolean): Verdict {
  if (!existing) return { kind: 'new' };
  if (existing.sha256 === sha256) return { kind: 'same', existing };
  if (!replace) throw conflict(req, existing, `these bytes differ (sha256 ${sha256.slice(0, 12)}…)`);
  return { kind: 'replace', existing };
}

function conflict(req: ValidatedRequest, existing: Manifest, why: string): PublishConflictError {
  return new PublishConflictError(
    `${req.name}@${req.version} is already published with sha256 ${existing.sha256.slice(0, 12)}… and ${why}: publish a new version, or pass --replace to replace it`,
  );
}

/** The catalog entry, or (catalog lost) this image version's sidecar next to the artifact. */
async function findExisting(
  deps: PublishDeps,
  req: ValidatedRequest,
  artifact: string,
): Promise<{ manifest?: Manifest; fromSidecar: boolean }> {
  const inCatalog = await deps.catalog.get(req.name, req.version);
  if (inCatalog) return { manifest: inCatalog, fromSidecar: false };
  const sidecar = await readImageSidecar(deps.store, artifact, req.name, req.version).catch((err: unknown) => {
    deps.logger?.warn({ err: (err as Error).message, artifact }, 'unreadable sidecar ignored');
    return undefined;
  });
  return sidecar ? { manifest: sidecar, fromSidecar: true } : { fromSidecar: false };
}

async function buildManifest(
  deps: PublishDeps,
  req: ValidatedRequest,
  artifact: string,
  pass: { sha256: string; bytesRead: number; summary: OvaSummary },
  replaces: string | undefined,
  preloaded?: SigningKey,
): Promise<Manifest> {
  const key = preloaded ?? (await deps.signingKey());
  const signed = signManifest(
    {
      schema: MANIFEST_SCHEMA,
      name: req.name,
      version: req.version,
      artifact,
      sha256: pass.sha256,
      size: pass.bytesRead,
      files: pass.summary.files,
      targets: req.targets,
      labels: req.labels,
      publishedAt: new Date().toISOString(),
      ...(replaces ? { replaces } : {}),
    },
    key,
  );
  return parseManifest(signed);
}

/**
 * Sidecar, then (with a rollout) its state, then catalog, then event: a crash in between is
 * finished by the daemon's discovery (unless a publish marker says the upload's publish never
 * finished). The rollout's state comes before the catalog entry, so no agent's reconcile sees the
 * image without it; a rollout announces its first wave (or nothing while held) instead of `all`.
 * `writes` records each step for an undo; `signal` is checked before each, since the event is the
 * point of no return.
 */
export async function announce(
  deps: PublishDeps,
  manifest: Manifest,
  guard: { writes?: PublishWrites; signal?: AbortSignal; replacing?: boolean } = {},
): Promise<PublishedEvent | undefined> {
  throwIfInterrupted(guard.signal);
  await writeSidecar(deps.store, manifest);
  if (guard.writes) guard.writes.sidecar = manifest;
  throwIfInterrupted(guard.signal);
  const rollout = await deps.rollout?.begin(manifest);
  if (guard.writes && rollout) guard.writes.rollout = rollout;
  throwIfInterrupted(guard.signal);
  await deps.catalog.put(manifest);
  if (guard.writes && !guard.replacing) guard.writes.newCatalogEntry = manifest;
  throwIfInterrupted(guard.signal);
  if (!rollout) return deps.bus.publish('all', { kind: 'published', manifest }, publishedMsgId(manifest));
  // Past the catalog entry a rollout is published: its state is durable and the daemon's rollout
  // loop releases what this first step does not (undoing now could strand a site that already got
  // the first wave's event).
  try {
    return await rollout.start();
  } catch (err) {
    deps.logger?.warn(
      { image: `${manifest.name}@${manifest.version}`, err: describeError(err).message },
      'rollout: first wave not released yet; the coordinator daemon releases it',
    );
    return undefined;
  }
}

function throwIfInterrupted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw interrupted();
}

/** The error of a publish stopped by Ctrl-C / SIGTERM (the undo follows it). */
export function interrupted(): InterruptedError {
  return new InterruptedError('interrupted: the upload was aborted and nothing was published');
}

async function noOp(
  deps: PublishDeps,
  existing: Manifest,
  fromSidecar: boolean,
  bytesRead: number,
): Promise<PublishResult> {
  if (fromSidecar) await deps.catalog.put(existing);
  return {
    status: 'already-published',
    manifest: existing,
    bytesRead,
    bytesUploaded: 0,
    ...(fromSidecar ? { restoredFromSidecar: true } : {}),
  };
}

/** `ferry publish FILE`: one read of the file uploads, hashes and inspects it; then sign, sidecar, catalog, event. */
export async function publishFile(deps: PublishDeps, options: PublishFileOptions): Promise<PublishResult> {
  const req = validatePublishOptions(options);
  const artifact = `${req.name}/${req.version}/${basename(options.file)}`;
  if (!isSafeStorePath(artifact))
    throw new InvalidNameError('file name', basename(options.file), 'cannot be a store path');
  let size: number;
  try {
    const st = await stat(options.file);
    if (!st.isFile()) throw new InputFileError(options.file, `${options.file} is not a regular file`);
    size = st.size;
  } catch (err) {
    if (err instanceof InputFileError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable' : (err as Error).message;
    throw new InputFileError(options.file, `${options.file} ${why}`, { cause: err });
  }
  // Cheap refusal before reading gigabytes: a different size is different bytes.
  const before = await findExisting(deps, req, artifact);
  if (before.manifest && before.manifest.size !== size && !options.replace) {
    throw conflict(
      req,
      before.manifest,
      `this file has a different size (${size} bytes, published ${before.manifest.size})`,
    );
  }

  // Everything checkable before the first byte goes up: the signing key (read and parsed here),
  // NATS and its buckets (opened with the context, read by findExisting above), and the store
  // (the marker is a small write to it).
  const signingKey = await deps.signingKey();
  throwIfInterrupted(options.signal);
  await writePublishMarker(deps.store, artifact, req);
  const writes: PublishWrites = { artifact, marker: true, object: false };
  try {
    let verdict: Verdict = { kind: 'new' };
    let fromSidecar = before.fromSidecar;
    const source = createReadStream(options.file, { highWaterMark: 1 << 20 });
    const pass = await uploadAndInspect(source, {
      store: deps.store,
      path: artifact,
      size,
      sourceName: options.file,
      signal: options.signal,
      interrupted,
      onProgress: options.onProgress && ((done) => options.onProgress?.(done, size)),
      decide: async ({ sha256 }) => {
        // Looked up again: someone may have published meanwhile.
        const now = await findExisting(deps, req, artifact);
        fromSidecar = now.fromSidecar;
        verdict = judge(req, now.manifest, sha256, options.replace ?? false);
        return verdict.kind === 'same' ? 'discard' : 'commit';
      },
    });
    writes.object = pass.committed;
    const decided = verdict as Verdict;
    if (decided.kind === 'same') {
      await undoPublish(deps, writes, deps.logger);
      return noOp(deps, decided.existing, fromSidecar, pass.bytesRead);
    }
    const replaces = decided.kind === 'replace' ? decided.existing.sha256 : undefined;
    const manifest = await buildManifest(deps, req, artifact, pass, replaces, signingKey);
    const event = await announce(deps, manifest, { writes, signal: options.signal, replacing: !!replaces });
    await deps.store.delete(publishMarkerPath(artifact)).catch((err: unknown) => {
      // Published all the same; the sidecar already keeps discovery from registering the object again.
      deps.logger?.warn({ artifact, err: (err as Error).message }, 'cannot remove the publish marker');
    });
    deps.logger?.info({ image: `${req.name}@${req.version}`, sha256: manifest.sha256, artifact }, 'published');
    return {
      status: 'published',
      manifest,
      bytesRead: pass.bytesRead,
      bytesUploaded: pass.bytesRead,
      event,
      ...(replaces ? { replaced: replaces } : {}),
    };
  } catch (err) {
    // With --replace the previous bytes at this path were overwritten when the upload completed:
    // removing the new object leaves that version without an artifact until it is published again.
    await undoPublish(deps, writes, deps.logger);
    throw err;
  }
}

/**
 * `ferry publish --from-store PATH`, discovery and the Artifactory webhook: the OVA is already in
 * the store. It is read once, hashed and inspected (for `files`); a sha256 the store records must agree.
 */
export async function publishFromStore(deps: PublishDeps, options: PublishFromStoreOptions): Promise<PublishResult> {
  const req = validatePublishOptions(options);
  const artifact = options.path.replace(/^\/+/, '');
  if (!isSafeStorePath(artifact)) {
    throw new InvalidNameError(
      'store path',
      options.path,
      'expected a relative path without "..", "\\" or empty segments',
    );
  }
  const head = await deps.store.head(artifact);
  if (!head) throw new NotFoundError(deps.store.description, artifact);
  // Before reading gigabytes: the key must be there to sign what they prove.
  const signingKey = await deps.signingKey();
  const before = await findExisting(deps, req, artifact);
  if (before.manifest && before.manifest.size !== head.size && !options.replace) {
    throw conflict(
      req,
      before.manifest,
      `${artifact} has a different size (${head.size} bytes, published ${before.manifest.size})`,
    );
  }
  const pass = await hashAndInspect(await deps.store.get(artifact), head.size);
  if (pass.bytesRead !== head.size) {
    throw new ChecksumMismatchError(
      `${artifact} in ${deps.store.description}`,
      String(head.size),
      String(pass.bytesRead),
      'size',
    );
  }
  if (head.sha256 && head.sha256.toLowerCase() !== pass.sha256) {
    throw new ChecksumMismatchError(
      `${artifact} (sha256 recorded by ${deps.store.description})`,
      head.sha256,
      pass.sha256,
    );
  }
  if (options.expectedSha256 && options.expectedSha256.toLowerCase() !== pass.sha256) {
    throw new ChecksumMismatchError(`${artifact} (announced sha256)`, options.expectedSha256, pass.sha256);
  }
  const now = await findExisting(deps, req, artifact);
  const verdict = judge(req, now.manifest, pass.sha256, options.replace ?? false);
  if (verdict.kind === 'same') return noOp(deps, verdict.existing, now.fromSidecar, pass.bytesRead);
  const replaces = verdict.kind === 'replace' ? verdict.existing.sha256 : undefined;
  const manifest = await buildManifest(deps, req, artifact, pass, replaces, signingKey);
  // The object was there before and stays; a sidecar or catalog entry written before a failure is
  // removed, so the failed registration is not announced later by discovery.
  const writes: PublishWrites = { artifact, marker: false, object: false };
  let event: PublishedEvent | undefined;
  try {
    event = await announce(deps, manifest, { writes, replacing: !!replaces });
  } catch (err) {
    await undoPublish(deps, writes, deps.logger);
    throw err;
  }
  deps.logger?.info(
    { image: `${req.name}@${req.version}`, sha256: manifest.sha256, artifact },
    'registered from store',
  );
  return {
    status: 'published',
    manifest,
    bytesRead: pass.bytesRead,
    bytesUploaded: 0,
    event,
    ...(replaces ? { replaced: replaces } : {}),
  };
}
