/**
 * Carries out the planner's actions for one rollout until it has to wait: releases waves (state
 * first, then one `published` event per site of the wave, then the state again), marks a wave
 * ready, halts, finishes. Safe to run from the daemon and from a CLI command at the same time:
 * state changes are compare-and-set, and a wave's events carry stable Nats-Msg-Ids.
 */
import { describeError, type Logger, type Manifest, publishedMsgId, type RolloutRecord } from '@ferry/shared';
import type { CoordinatorNats } from '../coordinator-context.js';
import { planRollout, type RolloutAction } from './rollout-planner.js';
import type { RolloutStore } from './rollout-store.js';
import { readImageStatuses, readSites } from './site-status.js';

export interface RolloutDriverDeps extends CoordinatorNats {
  rollouts: RolloutStore;
  logger?: Logger;
}

/** A runaway loop guard: a rollout never needs more steps than this in one go. */
const MAX_STEPS = 32;

/** Nats-Msg-Id of a wave's event to one site: a repeated release is stored once. */
export function waveMsgId(manifest: Manifest, wave: string, site: string): string {
  return `${publishedMsgId(manifest)}:wave:${wave}:${site}`;
}

/** Drives one rollout as far as it goes now; returns the action it stopped at (wait or idle). */
export async function driveRollout(
  deps: RolloutDriverDeps,
  name: string,
  version: string,
  now: () => number = Date.now,
): Promise<RolloutAction> {
  const log = deps.logger?.child({ image: `${name}@${version}` });
  for (let step = 0; step < MAX_STEPS; step++) {
    const record = await deps.rollouts.get(name, version);
    if (!record) return { kind: 'idle', reason: 'no rollout' };
    const manifest = await deps.catalog.get(name, version);
    const sites = await readSites(deps.topology, deps.logger);
    const statuses = await readImageStatuses(deps.topology, sites, name, version);
    const action = planRollout({ record, manifest, sites, statuses, now: now() });
    if (action.kind === 'wait' || action.kind === 'idle') return action;
    log?.info({ action }, 'rollout step');
    await apply(deps, record, manifest!, action, new Date(now()).toISOString());
  }
  return { kind: 'wait', reason: 'too many steps in one pass; continuing later' };
}

async function apply(
  deps: RolloutDriverDeps,
  record: RolloutRecord,
  manifest: Manifest,
  action: Exclude<RolloutAction, { kind: 'wait' | 'idle' }>,
  at: string,
): Promise<void> {
  const { name, version, sha256 } = record;
  // Every change re-checks that the record is still about the same bytes and not halted meanwhile.
  const same = (r: RolloutRecord) => r.sha256 === sha256 && !r.halt && !r.doneAt;
  switch (action.kind) {
    case 'halt':
      await deps.rollouts.update(name, version, (r) =>
        same(r) ? { ...r, halt: { reason: action.reason, at } } : undefined,
      );
      deps.logger?.warn({ image: `${name}@${version}`, reason: action.reason }, 'rollout halted');
      return;
    case 'done':
      await deps.rollouts.update(name, version, (r) => (same(r) ? { ...r, doneAt: at } : undefined));
      return;
    case 'mark-ready':
      await deps.rollouts.update(name, version, (r) =>
        same(r) ? withWave(r, action.wave, (w) => (w.readyAt ? undefined : { ...w, readyAt: at })) : undefined,
      );
      return;
    case 'release': {
      const released = await deps.rollouts.update(name, version, (r) =>
        same(r)
          ? withWave(r, action.wave, (w) => (w.releasedAt ? undefined : { ...w, releasedAt: at, sites: action.sites }))
          : undefined,
      );
      const wave = released.waves[action.wave]!;
      if (!same(released) || wave.announcedAt) return;
      for (const site of action.sites) {
        await deps.bus.publish(site, { kind: 'published', manifest }, waveMsgId(manifest, wave.name, site));
      }
      await deps.rollouts.update(name, version, (r) =>
        r.sha256 === sha256
          ? withWave(r, action.wave, (w) => (w.announcedAt ? undefined : { ...w, announcedAt: at }))
          : undefined,
      );
      deps.logger?.info({ image: `${name}@${version}`, wave: wave.name, sites: action.sites }, 'wave released');
    }
  }
}

/** The record with wave `i` changed; undefined (no write) when `change` leaves the wave as it is. */
export function withWave(
  record: RolloutRecord,
  i: number,
  change: (w: RolloutRecord['waves'][number]) => RolloutRecord['waves'][number] | undefined,
): RolloutRecord | undefined {
  const wave = record.waves[i];
  if (!wave) return undefined;
  const next = change(wave);
  if (!next) return undefined;
  return { ...record, waves: record.waves.map((w, n) => (n === i ? next : w)) };
}

/** Logs instead of throwing: the daemon's loop keeps going with the other rollouts. */
export async function driveQuietly(
  deps: RolloutDriverDeps,
  name: string,
  version: string,
): Promise<RolloutAction | undefined> {
  try {
    return await driveRollout(deps, name, version);
  } catch (err) {
    deps.logger?.warn({ image: `${name}@${version}`, err: describeError(err).message }, 'rollout step failed; retried');
    return undefined;
  }
}
