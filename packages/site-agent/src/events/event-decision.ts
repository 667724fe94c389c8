import {
  type FerryEvent,
  isImageName,
  isVersion,
  MAX_EVENT_BYTES,
  type Manifest,
  parseEvent,
  type RolloutRecord,
  type SchemaError,
  type SiteIdentity,
  type StatusRecord,
  siteReleased,
  type TrustedKey,
  targetsSite,
  verifyManifest,
  waveOfSite,
} from '@ferry/shared';

/** What the agent does with one event. Pure: all I/O happens in the caller. */
export type EventDecision =
  | { action: 'import'; manifest: Manifest; force: boolean }
  | { action: 'retire'; manifest: Manifest }
  | { action: 'reconcile' }
  | { action: 'ignore'; reason: string; manifest?: Manifest }
  /** A bad event: terminated; `image` when it can be attributed (a failed status is written). */
  | { action: 'reject'; code: string; reason: string; image?: { name: string; version: string; sha256?: string } };

export interface DecisionContext {
  site: SiteIdentity;
  trusted: readonly TrustedKey[];
  /** The site's current status record for the event's image, if any. */
  current?: StatusRecord;
  /** The image's rollout (`ferry_rollouts`), if it has one. */
  rollout?: RolloutRecord;
}

/**
 * Why an image may not be imported at this site yet: its rollout (for these bytes) has not
 * released the site's wave. Undefined when it may (no rollout, or the wave is released).
 */
export function heldByRollout(
  manifest: Pick<Manifest, 'sha256'>,
  rollout: RolloutRecord | undefined,
  site: SiteIdentity,
): string | undefined {
  if (!rollout || rollout.sha256 !== manifest.sha256 || siteReleased(rollout, site)) return undefined;
  return `rollout wave ${rollout.waves[waveOfSite(rollout.waves, site)]?.name} is not released for ${site.site} yet`;
}

/** Step 1: bytes → event, or a rejection that says why. */
export function decodeEvent(data: Uint8Array): { event: FerryEvent } | Extract<EventDecision, { action: 'reject' }> {
  if (data.length > MAX_EVENT_BYTES) {
    return {
      action: 'reject',
      code: 'EVENT_TOO_LARGE',
      reason: `event of ${data.length} bytes exceeds ${MAX_EVENT_BYTES}`,
    };
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(data));
  } catch (err) {
    return { action: 'reject', code: 'EVENT_NOT_JSON', reason: `event is not JSON: ${(err as Error).message}` };
  }
  try {
    return { event: parseEvent(json) };
  } catch (err) {
    return { action: 'reject', code: 'SCHEMA_INVALID', reason: (err as SchemaError).message, image: attribute(json) };
  }
}

/** Best effort: name and version of a malformed event, so its failure can be shown in status. */
function attribute(json: unknown): { name: string; version: string } | undefined {
  const m = (json as { manifest?: { name?: unknown; version?: unknown } } | null)?.manifest;
  if (typeof m?.name === 'string' && typeof m.version === 'string' && isImageName(m.name) && isVersion(m.version)) {
    return { name: m.name, version: m.version };
  }
  return undefined;
}

/** Step 2: event → what to do at this site. */
export function decideEvent(event: FerryEvent, ctx: DecisionContext): EventDecision {
  if (event.kind === 'reconcile') return { action: 'reconcile' };
  const { manifest } = event;
  const image = { name: manifest.name, version: manifest.version, sha256: manifest.sha256 };
  try {
    verifyManifest(manifest, ctx.trusted);
  } catch (err) {
    return { action: 'reject', code: 'SIGNATURE_INVALID', reason: (err as Error).message, image };
  }
  if (!targetsSite(manifest.targets, ctx.site)) {
    return { action: 'ignore', reason: `not targeted at ${ctx.site.site}`, manifest };
  }
  if (event.kind === 'retired') {
    if (!manifest.retiredAt) {
      return {
        action: 'reject',
        code: 'SCHEMA_INVALID',
        reason: 'retired event whose manifest has no retiredAt',
        image,
      };
    }
    return { action: 'retire', manifest };
  }
  // Whatever subject the event came on (a republish to `all`, say), an unreleased wave waits.
  const held = heldByRollout(manifest, ctx.rollout, ctx.site);
  if (held) return { action: 'ignore', reason: held, manifest };
  const rollback = rollbackReason(manifest, ctx.current);
  if (rollback) return { action: 'reject', code: 'ROLLBACK_REFUSED', reason: rollback, image };
  const force = event.kind === 'republish' && event.force;
  const cur = ctx.current;
  if (!force && cur && cur.sha256 === manifest.sha256 && cur.state !== 'failed' && cur.state !== 'retired') {
    // Duplicate delivery or a republish of what is already here or under way.
    if (event.kind === 'published' || cur.state !== 'ready') {
      return { action: 'ignore', reason: `already ${cur.state}`, manifest };
    }
  }
  return { action: 'import', manifest, force };
}

/**
 * Refuses to go back: a manifest for N@V with other bytes than the site already has is
 * only taken when it is newer and says which sha256 it replaces (`ferry publish --replace`).
 */
export function rollbackReason(manifest: Manifest, current: StatusRecord | undefined): string | undefined {
  if (!current || current.sha256 === manifest.sha256 || !current.publishedAt) return undefined;
  if (manifest.publishedAt <= current.publishedAt) {
    return `manifest for ${manifest.name}@${manifest.version} published ${manifest.publishedAt} is not newer than the one this site has (${current.publishedAt}, sha256 ${current.sha256.slice(0, 12)}): refusing a rollback`;
  }
  if (manifest.replaces !== current.sha256) {
    return `manifest for ${manifest.name}@${manifest.version} changes sha256 ${current.sha256.slice(0, 12)} → ${manifest.sha256.slice(0, 12)} without saying it replaces it (publish with --replace)`;
  }
  return undefined;
}
