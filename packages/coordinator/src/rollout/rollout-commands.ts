/**
 * What `ferry approve | promote | halt | resume | rollout status N@V` and `POST /api/approve` do
 * to a rollout's state. Each change is a compare-and-set on the record; approve, promote and
 * resume then drive the rollout once, so it moves on without waiting for the daemon.
 */
import { userInfo } from 'node:os';
import { type RolloutRecord, type RolloutView, viewRollout } from '@ferry/shared';
import { parseExactRef } from '../publish/republish-image.js';
import { driveRollout, type RolloutDriverDeps, withWave } from './rollout-driver.js';
import { RolloutNotFoundError, RolloutStateError } from './rollout-errors.js';
import { currentWave, type RolloutAction } from './rollout-planner.js';

export interface RolloutResult {
  record: RolloutRecord;
  view: RolloutView;
  /** Where the rollout stopped after the command (what it waits for). */
  next?: RolloutAction;
}

/** The OS user running the CLI (`approvedBy`, `halted by`). */
export function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'unknown';
  }
}

type Change = (record: RolloutRecord, ref: string) => RolloutRecord | undefined;

/**
 * Applies `change` to the record of `ref` (compare-and-set; undefined: leave it as it is), then,
 * when `drive`, drives the rollout once.
 */
async function changeRollout(deps: RolloutDriverDeps, ref: string, change: Change, drive: boolean) {
  const { name, version } = parseExactRef(ref);
  const record = await deps.rollouts.update(name, version, (r) => change(r, `${name}@${version}`));
  return finish(deps, record, drive);
}

async function finish(deps: RolloutDriverDeps, record: RolloutRecord, drive: boolean): Promise<RolloutResult> {
  const next = drive ? await driveRollout(deps, record.name, record.version) : undefined;
  const latest = (await deps.rollouts.get(record.name, record.version)) ?? record;
  return { record: latest, view: viewRollout(latest, new Date()), ...(next ? { next } : {}) };
}

export async function rolloutStatus(deps: RolloutDriverDeps, ref: string): Promise<RolloutResult> {
  const { name, version } = parseExactRef(ref);
  const record = await deps.rollouts.get(name, version);
  if (!record) throw new RolloutNotFoundError(name, version);
  return { record, view: viewRollout(record, new Date()) };
}

export async function approveRollout(
  deps: RolloutDriverDeps,
  ref: string,
  who: { by: string; note?: string },
): Promise<RolloutResult> {
  const note = who.note?.trim();
  const approval = { by: who.by, at: new Date().toISOString(), ...(note ? { note } : {}) };
  return changeRollout(deps, ref, (r) => (r.approval ? undefined : { ...r, approval }), true);
}

/** Releases the next wave now, without waiting for readiness or soak. */
export async function promoteRollout(deps: RolloutDriverDeps, ref: string, by: string): Promise<RolloutResult> {
  const change: Change = (r, ref) => {
    if (r.halt) throw new RolloutStateError(`${ref} is halted (${r.halt.reason}): ferry resume ${ref} first`);
    if (r.doneAt) throw new RolloutStateError(`${ref}: every wave is released and done; nothing to promote`);
    if (r.gate === 'approval' && !r.approval) {
      throw new RolloutStateError(`${ref} is held for approval: ferry approve ${ref} first`);
    }
    const next = currentWave(r) + 1;
    if (next >= r.waves.length) {
      throw new RolloutStateError(`${ref}: the last wave (${r.waves.at(-1)!.name}) is already released`);
    }
    // The driver sends the wave's events (it is released but not yet announced).
    return withWave(r, next, (w) => ({ ...w, releasedAt: new Date().toISOString(), promotedBy: by }));
  };
  return changeRollout(deps, ref, change, true);
}

export async function haltRollout(
  deps: RolloutDriverDeps,
  ref: string,
  who: { by: string; reason?: string },
): Promise<RolloutResult> {
  const reason = `by ${who.by}${who.reason?.trim() ? `: ${who.reason.trim()}` : ''}`;
  const halt = { reason, at: new Date().toISOString(), by: who.by };
  return changeRollout(deps, ref, (r) => (r.halt ? undefined : { ...r, halt }), false);
}

/** Clears a halt; the rollout is checked again at once (a failure still there halts it again). */
export async function resumeRollout(deps: RolloutDriverDeps, ref: string): Promise<RolloutResult> {
  const clear: Change = (r) => {
    if (!r.halt) return undefined;
    const { halt: _halt, ...rest } = r;
    return rest;
  };
  return changeRollout(deps, ref, clear, true);
}
