/**
 * The rollout planner: a pure function of (rollout state, the image's manifest, the sites that
 * run an agent, their status for the image, now) → the next thing the coordinator must do. The
 * driver (rollout-driver.ts) carries the action out, writes the state and asks again.
 */
import { type Manifest, type RolloutRecord, type SiteIdentity, targetsSite, waveOfSite } from '@ferry/shared';

/** What the planner needs of one site's status record for the image (read leniently: see site-status.ts). */
export interface SiteImageStatus {
  state: string;
  sha256: string;
  error?: { code: string; message: string };
  /** The agent will try again at this time (a failure that is not final yet). */
  retryAt?: string;
  /** The deploy check result, where the record carries one. */
  check?: { passed: boolean };
}

export interface PlannerInput {
  record: RolloutRecord;
  /** The catalog's manifest; undefined when it is gone. */
  manifest: Pick<Manifest, 'sha256' | 'targets' | 'retiredAt'> | undefined;
  /** Sites that run an agent (from their heartbeats). */
  sites: readonly SiteIdentity[];
  /** Per site id: its status record for this image version. */
  statuses: ReadonlyMap<string, SiteImageStatus>;
  now: number;
}

export type RolloutAction =
  /** Record the wave as released (if it is not yet), address an event to each of `sites`, record that. */
  | { kind: 'release'; wave: number; sites: string[] }
  /** Every site of the wave is ready: the soak starts now. */
  | { kind: 'mark-ready'; wave: number }
  | { kind: 'halt'; reason: string }
  | { kind: 'done' }
  /** Nothing to do until a status changes, or until `until` (ms) at the latest. */
  | { kind: 'wait'; reason: string; until?: number }
  /** Nothing to do at all (held, halted, done): only an operator changes that. */
  | { kind: 'idle'; reason: string };

/** The sites of `wave`: targeted by the image and belonging to that wave (their first matching wave). */
export function sitesOfWave(input: Pick<PlannerInput, 'record' | 'manifest' | 'sites'>, wave: number): string[] {
  const targets = input.manifest?.targets ?? [];
  return input.sites
    .filter((s) => targetsSite(targets, s) && waveOfSite(input.record.waves, s) === wave)
    .map((s) => s.site)
    .sort();
}

/** Index of the last released wave, -1 when none is. */
export function currentWave(record: RolloutRecord): number {
  let i = -1;
  record.waves.forEach((w, n) => {
    if (w.releasedAt !== undefined) i = n;
  });
  return i;
}

function describeFailure(site: string, s: SiteImageStatus): string | undefined {
  if (s.check && !s.check.passed) return `${site}: deploy check failed${s.error ? ` (${s.error.message})` : ''}`;
  if (s.state === 'failed' && !s.retryAt) {
    return `${site} failed${s.error ? `: ${s.error.code}: ${s.error.message}` : ''}`;
  }
  return undefined;
}

function isReady(s: SiteImageStatus | undefined, sha256: string): boolean {
  // `checking` (a deploy check under way) is not ready; a check result, when present, must have passed.
  return s !== undefined && s.sha256 === sha256 && s.state === 'ready' && (s.check === undefined || s.check.passed);
}

export function planRollout(input: PlannerInput): RolloutAction {
  const { record, manifest, now } = input;
  if (record.halt) return { kind: 'idle', reason: `halted: ${record.halt.reason}` };
  if (record.doneAt) return { kind: 'idle', reason: 'done' };
  // A publish writes the rollout before the catalog entry: until it lands there is nothing to release.
  if (!manifest) return { kind: 'wait', reason: 'the image is not in the catalog (yet)' };
  if (manifest.retiredAt) return { kind: 'halt', reason: `the image was retired at ${manifest.retiredAt}` };
  if (manifest.sha256 !== record.sha256) {
    // A `publish --replace` writes a new record before the catalog: this one is about to be replaced.
    return { kind: 'wait', reason: 'the catalog holds other bytes than this rollout' };
  }
  if (record.gate === 'approval' && !record.approval) return { kind: 'idle', reason: 'held: waiting for approval' };

  const current = currentWave(record);
  if (current === -1) return { kind: 'release', wave: 0, sites: sitesOfWave(input, 0) };
  const wave = record.waves[current]!;
  const sites = sitesOfWave(input, current);
  // Released but its events not yet confirmed sent (the coordinator stopped in between): send again.
  if (!wave.announcedAt) return { kind: 'release', wave: current, sites };

  const isLast = current === record.waves.length - 1;
  if (sites.length === 0 && current === 0 && !wave.promotedBy) {
    return {
      kind: 'halt',
      reason: `wave ${wave.name} selects no site that runs an agent (${wave.targets.join(' ')}): fix the selectors, or ferry promote`,
    };
  }
  for (const site of sites) {
    const s = input.statuses.get(site);
    if (!s || s.sha256 !== record.sha256) continue;
    const failure = describeFailure(site, s);
    if (failure) return { kind: 'halt', reason: `wave ${wave.name}: ${failure}` };
  }
  const waiting = sites.filter((site) => !isReady(input.statuses.get(site), record.sha256));
  if (waiting.length > 0) return { kind: 'wait', reason: `wave ${wave.name}: waiting for ${waiting.join(', ')}` };
  if (!wave.readyAt) return { kind: 'mark-ready', wave: current };
  const soakEnd = Date.parse(wave.readyAt) + wave.soakMs;
  if (now < soakEnd) {
    return {
      kind: 'wait',
      reason: `wave ${wave.name}: soaking until ${new Date(soakEnd).toISOString()}`,
      until: soakEnd,
    };
  }
  if (isLast) return { kind: 'done' };
  return { kind: 'release', wave: current + 1, sites: sitesOfWave(input, current + 1) };
}
