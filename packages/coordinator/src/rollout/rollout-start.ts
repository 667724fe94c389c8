/**
 * Which rollout a publish gets (the coordinator config's `rollout` policy, overridden by
 * `ferry publish --wave/--soak/--hold`), and the publish hook that writes its state before the
 * catalog entry and releases its first wave instead of announcing to every site.
 */
import {
  type Manifest,
  type PublishedEvent,
  parseDuration,
  ROLLOUT_SCHEMA,
  type RolloutGate,
  type RolloutRecord,
  type WaveSpec,
  waveSpecSchema,
} from '@ferry/shared';
import { UsageError } from '../errors.js';
import { driveRollout, type RolloutDriverDeps } from './rollout-driver.js';

/** How a publish (publish-image.ts `announce`) starts a rollout instead of announcing to every site. */
export interface RolloutHook {
  /** Called before the catalog entry is written; a rollout's `start` then announces instead of the `all` event. */
  begin(manifest: Manifest): Promise<RolloutBegun | undefined>;
}

export interface RolloutBegun {
  /** Announces the first wave (nothing while held). */
  start(): Promise<PublishedEvent | undefined>;
  /** A failed publish: puts back the rollout state that was there before (or none). */
  undo(): Promise<void>;
}

export interface RolloutPolicy {
  gate: RolloutGate;
  waves: readonly WaveSpec[];
}

export interface RolloutFlags {
  /** `--wave NAME=SELECTOR[,SELECTOR…]`, in order. */
  waves?: readonly string[];
  /** `--soak 30m`: the soak of every wave given with --wave. */
  soak?: string;
  /** `--hold`: no wave until `ferry approve`. */
  hold?: boolean;
}

/** The one wave of a gated publish without waves: every targeted site at once, after approval. */
const ALL_AT_ONCE: WaveSpec = { name: 'all', targets: ['*'], soakMs: 0 };

/** Parses `--wave`/`--soak`/`--hold` (before anything is written); throws one clear UsageError. */
export function parseRolloutFlags(flags: RolloutFlags): { waves?: WaveSpec[]; hold: boolean } {
  let soakMs = 0;
  if (flags.soak !== undefined) {
    if (!flags.waves?.length) throw new UsageError('--soak needs --wave (the soak applies to each wave)');
    const ms = parseDuration(flags.soak);
    if (ms === undefined)
      throw new UsageError(`invalid --soak ${JSON.stringify(flags.soak)}: expected e.g. 30m, 2h, 45s`);
    soakMs = ms;
  }
  const waves = flags.waves?.map((arg) => {
    const eq = arg.indexOf('=');
    const parsed = waveSpecSchema.safeParse({
      name: eq > 0 ? arg.slice(0, eq) : '',
      targets:
        eq > 0
          ? arg
              .slice(eq + 1)
              .split(',')
              .filter(Boolean)
          : [],
      soakMs,
    });
    if (!parsed.success) {
      throw new UsageError(
        `invalid --wave ${JSON.stringify(arg)}: expected NAME=SELECTOR[,SELECTOR…] with a name of A-Z a-z 0-9 _ - and selectors "*", a site id, zone:<zone> or label:<k>=<v>`,
      );
    }
    return parsed.data;
  });
  if (waves && new Set(waves.map((w) => w.name)).size !== waves.length) {
    throw new UsageError('--wave names must be unique');
  }
  return { ...(waves?.length ? { waves } : {}), hold: flags.hold ?? false };
}

/** The rollout a publish gets; undefined: no rollout (every targeted site at once, as without policy). */
export function resolveRollout(
  policy: RolloutPolicy,
  flags: { waves?: WaveSpec[]; hold: boolean },
): RolloutPolicy | undefined {
  const gate: RolloutGate = flags.hold ? 'approval' : policy.gate;
  const waves = flags.waves ?? policy.waves;
  if (waves.length === 0 && gate === 'none') return undefined;
  return { gate, waves: waves.length > 0 ? waves : [ALL_AT_ONCE] };
}

export function newRolloutRecord(manifest: Manifest, rollout: RolloutPolicy, now = new Date()): RolloutRecord {
  const at = now.toISOString();
  return {
    schema: ROLLOUT_SCHEMA,
    name: manifest.name,
    version: manifest.version,
    sha256: manifest.sha256,
    gate: rollout.gate,
    waves: rollout.waves.map((w) => ({ name: w.name, targets: [...w.targets], soakMs: w.soakMs })),
    createdAt: at,
    updatedAt: at,
  };
}

/** The publish hook: writes the rollout, and after the catalog entry drives it once (releases wave 1 unless held). */
export function rolloutHook(deps: RolloutDriverDeps, rollout: RolloutPolicy | undefined): RolloutHook | undefined {
  if (!rollout) return undefined;
  return {
    begin: async (manifest) => {
      const previous = await deps.rollouts.get(manifest.name, manifest.version);
      await deps.rollouts.create(newRolloutRecord(manifest, rollout));
      return {
        start: async () => {
          await driveRollout(deps, manifest.name, manifest.version);
          return undefined;
        },
        undo: () => (previous ? deps.rollouts.create(previous) : deps.rollouts.remove(manifest.name, manifest.version)),
      };
    },
  };
}
