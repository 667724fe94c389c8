/**
 * Rollouts in waves: the policy (coordinator config / `ferry publish --wave`) and the state the
 * coordinator keeps per image version in KV `ferry_rollouts` (`<name>.<version>`, the catalog's
 * key). Agents read the state too: an image with a rollout record is imported at a site only once
 * the site's wave has been released. The pure functions here are the one place both sides decide
 * which wave a site belongs to.
 */

import type { KV } from '@nats-io/kv';
import { z } from 'zod';
import { MessagingError } from './errors.js';
import { listKeys } from './kv-keys.js';
import { targetSchema } from './manifest.js';
import { catalogKey } from './nats-names.js';
import { parserOf } from './schema-error.js';
import { type SiteIdentity, targetsSite } from './targets.js';

export const ROLLOUTS_BUCKET = 'ferry_rollouts';
export const ROLLOUT_SCHEMA = 'ferry/rollout/v1';
export const ROLLOUT_GATES = ['none', 'approval'] as const;
export type RolloutGate = (typeof ROLLOUT_GATES)[number];

export const waveNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'expected a wave name of 1-64 of A-Z a-z 0-9 _ -');

/** One wave as policy: its name, the target selectors it takes, and how long to soak once all its sites are ready. */
export const waveSpecSchema = z.strictObject({
  name: waveNameSchema,
  targets: z.array(targetSchema).min(1),
  soakMs: z.number().int().nonnegative(),
});
export type WaveSpec = z.infer<typeof waveSpecSchema>;

export const rolloutWaveSchema = z.strictObject({
  ...waveSpecSchema.shape,
  /** When the coordinator decided to release the wave (agents import from here on). */
  releasedAt: z.string().optional(),
  /** When the wave's events were published (a crash between the two is repaired by announcing again). */
  announcedAt: z.string().optional(),
  /** When every site of the wave was first seen ready: the soak counts from here. */
  readyAt: z.string().optional(),
  /** Who released it early with `ferry promote`. */
  promotedBy: z.string().optional(),
  /** Sites the release event was addressed to (those with a heartbeat at the time). */
  sites: z.array(z.string()).optional(),
});
export type RolloutWave = z.infer<typeof rolloutWaveSchema>;

const actorStamp = z.strictObject({ by: z.string(), at: z.string(), note: z.string().optional() });

export const rolloutRecordSchema = z.strictObject({
  schema: z.literal(ROLLOUT_SCHEMA),
  name: z.string(),
  version: z.string(),
  /** The bytes this rollout is about: a `publish --replace` starts a new rollout. */
  sha256: z.string(),
  gate: z.enum(ROLLOUT_GATES),
  approval: actorStamp.optional(),
  waves: z.array(rolloutWaveSchema).min(1),
  halt: z.strictObject({ reason: z.string(), at: z.string(), by: z.string().optional() }).optional(),
  doneAt: z.string().optional(),
  createdAt: z.string(),
  updatedAt: z.string(),
});
export type RolloutRecord = z.infer<typeof rolloutRecordSchema>;

export const parseRolloutRecord = parserOf<RolloutRecord>(rolloutRecordSchema, 'rollout record');

/** KV key of an image version's rollout: the same encoding as its catalog entry. */
export function rolloutKey(name: string, version: string): string {
  return catalogKey(name, version);
}

/**
 * The wave a site belongs to: the first whose selectors match it. A site no wave names goes with
 * the last wave (a typo in a canary selector must not make sites skip the rollout).
 */
export function waveOfSite(waves: readonly Pick<WaveSpec, 'targets'>[], site: SiteIdentity): number {
  const i = waves.findIndex((w) => targetsSite(w.targets, site));
  return i === -1 ? waves.length - 1 : i;
}

/** Whether an image under this rollout may be imported at the site now. */
export function siteReleased(record: RolloutRecord, site: SiteIdentity): boolean {
  return record.waves[waveOfSite(record.waves, site)]?.releasedAt !== undefined;
}

export type RolloutPhase = 'held' | 'pending' | 'rolling' | 'soaking' | 'halted' | 'done';

/** What `ferry status`, `rollout status` and the page show of a rollout. */
export interface RolloutView {
  state: RolloutPhase;
  /** Name of the current (last released) wave, or of the first while nothing is released. */
  wave: string;
  /** 1-based number of the current wave. */
  waveNumber: number;
  of: number;
  soakUntil: string | null;
  haltReason: string | null;
  approvedBy: string | null;
  approvedAt: string | null;
  note: string | null;
  /** One line for people: `held`, `wave 2 of 3 (all)`, `soaking until …`, `halted: …`, `done`. */
  summary: string;
}

export function viewRollout(record: RolloutRecord, now: Date): RolloutView {
  const released = record.waves.filter((w) => w.releasedAt !== undefined).length;
  const index = Math.max(0, released - 1);
  const wave = record.waves[index]!;
  const soak = wave.readyAt ? Date.parse(wave.readyAt) + wave.soakMs : undefined;
  const soakUntil = soak !== undefined && soak > now.getTime() && !record.doneAt ? new Date(soak).toISOString() : null;
  let state: RolloutPhase;
  if (record.halt) state = 'halted';
  else if (record.doneAt) state = 'done';
  else if (record.gate === 'approval' && !record.approval) state = 'held';
  else if (released === 0) state = 'pending';
  else if (soakUntil) state = 'soaking';
  else state = 'rolling';
  const position = `wave ${index + 1} of ${record.waves.length} (${wave.name})`;
  const summary =
    state === 'halted'
      ? `halted: ${record.halt!.reason}`
      : state === 'done'
        ? 'done'
        : state === 'held'
          ? 'held: waiting for ferry approve'
          : state === 'pending'
            ? `releasing ${position}`
            : state === 'soaking'
              ? `${position}, soaking until ${soakUntil}`
              : position;
  return {
    state,
    wave: wave.name,
    waveNumber: index + 1,
    of: record.waves.length,
    soakUntil,
    haltReason: record.halt?.reason ?? null,
    approvedBy: record.approval?.by ?? null,
    approvedAt: record.approval?.at ?? null,
    note: record.approval?.note ?? null,
    summary,
  };
}

/** Reads rollout records from `ferry_rollouts` (both sides use it; the coordinator also writes). */
export class RolloutReader {
  constructor(readonly kv: KV) {}

  async get(name: string, version: string): Promise<RolloutRecord | undefined> {
    return (await this.getEntry(name, version))?.record;
  }

  /** The record with its KV revision, for compare-and-set updates. */
  async getEntry(name: string, version: string): Promise<{ record: RolloutRecord; revision: number } | undefined> {
    const entry = await this.kv.get(rolloutKey(name, version)).catch((err: unknown) => {
      throw new MessagingError(`cannot read rollout ${name}@${version}: ${(err as Error).message}`, { cause: err });
    });
    if (entry?.operation !== 'PUT' || entry.length === 0) return undefined;
    return { record: parseRolloutRecord(entry.json()), revision: entry.revision };
  }

  /** Every record; ones that do not parse are reported, not thrown. */
  async list(onInvalid?: (key: string, err: Error) => void): Promise<RolloutRecord[]> {
    const out: RolloutRecord[] = [];
    for (const key of await listKeys(this.kv, 'rollouts')) {
      const entry = await this.kv.get(key).catch((err: unknown) => {
        throw new MessagingError(`cannot read rollout ${key}: ${(err as Error).message}`, { cause: err });
      });
      if (entry?.operation !== 'PUT' || entry.length === 0) continue;
      try {
        out.push(parseRolloutRecord(entry.json()));
      } catch (err) {
        onInvalid?.(key, err as Error);
      }
    }
    return out;
  }
}
