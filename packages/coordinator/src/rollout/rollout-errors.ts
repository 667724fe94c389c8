import { FerryError } from '@ferry/shared';

/** `name@version` has no rollout record (published without waves or approval gate). */
export class RolloutNotFoundError extends FerryError {
  constructor(name: string, version: string) {
    super(
      'ROLLOUT_NOT_FOUND',
      `${name}@${version} has no rollout: it was published without waves or approval gate (see: ferry status ${name})`,
    );
  }
}

/** An operator command that does not apply to the rollout's state (e.g. promote a halted rollout). */
export class RolloutStateError extends FerryError {
  constructor(message: string) {
    super('ROLLOUT_STATE', message);
  }
}
