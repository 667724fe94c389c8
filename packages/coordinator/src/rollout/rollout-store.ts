import { MessagingError, parseRolloutRecord, RolloutReader, type RolloutRecord, rolloutKey } from '@ferry/shared';
import { RolloutNotFoundError } from './rollout-errors.js';

const MAX_CAS_ATTEMPTS = 8;

/**
 * `ferry_rollouts` for the coordinator side: every change is a compare-and-set on the entry's
 * revision, so the daemon and a CLI command (approve, halt, promote) never overwrite each other.
 */
export class RolloutStore extends RolloutReader {
  /** Writes a new rollout (a publish, or a `publish --replace` that restarts it). */
  async create(record: RolloutRecord): Promise<void> {
    try {
      await this.kv.put(rolloutKey(record.name, record.version), JSON.stringify(parseRolloutRecord(record)));
    } catch (err) {
      throw new MessagingError(`cannot write rollout ${record.name}@${record.version}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /** Removes a rollout (the undo of a failed publish that created it). */
  async remove(name: string, version: string): Promise<void> {
    try {
      await this.kv.delete(rolloutKey(name, version));
    } catch (err) {
      throw new MessagingError(`cannot remove rollout ${name}@${version}: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Applies `change` to the current record and writes it if nobody wrote in between (else reads
   * again and retries). `change` returns undefined to leave the record as it is.
   */
  async update(
    name: string,
    version: string,
    change: (current: RolloutRecord) => RolloutRecord | undefined,
  ): Promise<RolloutRecord> {
    for (let attempt = 1; ; attempt++) {
      const entry = await this.getEntry(name, version);
      if (!entry) throw new RolloutNotFoundError(name, version);
      const next = change(entry.record);
      if (!next) return entry.record;
      const value = parseRolloutRecord({ ...next, updatedAt: new Date().toISOString() });
      try {
        await this.kv.update(rolloutKey(name, version), JSON.stringify(value), entry.revision);
        return value;
      } catch (err) {
        if (attempt >= MAX_CAS_ATTEMPTS || !/wrong last sequence/i.test((err as Error).message)) {
          throw new MessagingError(`cannot update rollout ${name}@${version}: ${(err as Error).message}`, {
            cause: err,
          });
        }
      }
    }
  }
}
