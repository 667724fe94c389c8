import {
  backoffDelay,
  describeError,
  type Logger,
  listKeys,
  parseStatusKey,
  parseStatusRecord,
  type StatusRecord,
  sleep,
  statusKey,
} from '@ferry/shared';
import type { KV } from '@nats-io/kv';

export type StatusPatch = Partial<Omit<StatusRecord, 'site' | 'name' | 'version' | 'updatedAt' | 'agentVersion'>>;

interface Slot {
  record: StatusRecord;
  /** Bumped on each change; a write is confirmed when the written generation >= the caller's. */
  generation: number;
  written: number;
  writing: boolean;
  waiters: Array<{ generation: number; resolve: () => void }>;
  lastProgressAt: number;
  lastProgressBytes: number;
}

const PROGRESS_MIN_INTERVAL_MS = 1_000;
const PROGRESS_MIN_FRACTION = 0.01;

/**
 * Writes this site's status records to `ferry_status`. Writes for one key are
 * coalesced (the newest record wins) and retried with backoff while NATS is away,
 * so a transfer never waits on the broker; `update()` resolves once the record
 * (or a newer one) is stored.
 */
export class StatusWriter {
  readonly #slots = new Map<string, Slot>();
  #closed = false;

  constructor(
    readonly kv: KV,
    readonly site: string,
    readonly agentVersion: string,
    readonly log: Logger,
  ) {}

  /** The last record this agent knows for the image (its own write, or what it read at start). */
  current(name: string, version: string): StatusRecord | undefined {
    return this.#slots.get(statusKey(this.site, name, version))?.record;
  }

  /** Reads this site's records from the bucket (at start). */
  async load(): Promise<StatusRecord[]> {
    const out: StatusRecord[] = [];
    for (const key of await listKeys(this.kv, `the status records of ${this.site}`, `${this.site}.>`)) {
      const parts = parseStatusKey(key);
      if (!parts) continue; // e.g. `<site>._reconcile`
      const entry = await this.kv.get(key);
      if (entry?.operation !== 'PUT' || entry.length === 0) continue;
      try {
        const record = parseStatusRecord(entry.json());
        out.push(record);
        this.#slots.set(key, this.#newSlot(record));
      } catch (err) {
        this.log.warn({ key, err: describeError(err).message }, 'ignoring unreadable status record');
      }
    }
    return out;
  }

  /** Sets fields of the image's record (creating it) and waits until it is stored. */
  update(name: string, version: string, patch: StatusPatch & { sha256?: string }): Promise<void> {
    const key = statusKey(this.site, name, version);
    const slot = this.#slots.get(key);
    const base: StatusRecord = slot?.record ?? {
      site: this.site,
      name,
      version,
      sha256: patch.sha256 ?? '',
      state: 'pending',
      bytesDone: 0,
      bytesTotal: 0,
      attempts: 0,
      updatedAt: '',
      agentVersion: this.agentVersion,
    };
    const record: StatusRecord = {
      ...base,
      ...patch,
      updatedAt: new Date().toISOString(),
      agentVersion: this.agentVersion,
    };
    // A state change clears what no longer applies.
    if (patch.state && patch.state !== 'failed') {
      delete record.error;
      if (!('retryAt' in patch)) delete record.retryAt;
    }
    if (patch.state && patch.state !== 'importing') delete record.bytesDownloaded;
    return this.#write(key, record);
  }

  /**
   * Byte progress during a transfer: stored at most once a second and only after 1 %
   * more of the bytes, so a 4-hour upload makes at most a few hundred writes.
   */
  progress(
    name: string,
    version: string,
    state: StatusRecord['state'],
    bytesDone: number,
    bytesTotal: number,
    bytesDownloaded?: number,
  ): void {
    const key = statusKey(this.site, name, version);
    const slot = this.#slots.get(key);
    if (!slot) return;
    const now = Date.now();
    const changedState = slot.record.state !== state;
    const done = bytesDone >= bytesTotal;
    if (!changedState && !done) {
      if (now - slot.lastProgressAt < PROGRESS_MIN_INTERVAL_MS) return;
      if (bytesDone - slot.lastProgressBytes < bytesTotal * PROGRESS_MIN_FRACTION) return;
    }
    slot.lastProgressAt = now;
    slot.lastProgressBytes = bytesDone;
    void this.update(name, version, { state, bytesDone, bytesTotal, bytesDownloaded });
  }

  /** Resolves once every record changed so far is stored (or the writer is closed). */
  async settled(): Promise<void> {
    const pending = [...this.#slots.values()]
      .filter((s) => s.written < s.generation)
      .map((s) => new Promise<void>((resolve) => s.waiters.push({ generation: s.generation, resolve })));
    await Promise.all(pending);
  }

  close(): void {
    this.#closed = true;
    for (const slot of this.#slots.values()) for (const w of slot.waiters.splice(0)) w.resolve();
  }

  #newSlot(record: StatusRecord): Slot {
    return { record, generation: 0, written: 0, writing: false, waiters: [], lastProgressAt: 0, lastProgressBytes: 0 };
  }

  #write(key: string, record: StatusRecord): Promise<void> {
    let slot = this.#slots.get(key);
    if (!slot) {
      slot = this.#newSlot(record);
      this.#slots.set(key, slot);
    }
    slot.record = record;
    const generation = ++slot.generation;
    const done = new Promise<void>((resolve) => slot.waiters.push({ generation, resolve }));
    if (!slot.writing) void this.#flush(key, slot);
    return done;
  }

  async #flush(key: string, slot: Slot): Promise<void> {
    slot.writing = true;
    let attempt = 0;
    while (slot.written < slot.generation && !this.#closed) {
      const generation = slot.generation;
      try {
        await this.kv.put(key, JSON.stringify(slot.record));
        slot.written = generation;
        attempt = 0;
        const ready = slot.waiters.filter((w) => w.generation <= generation);
        slot.waiters = slot.waiters.filter((w) => w.generation > generation);
        for (const w of ready) w.resolve();
      } catch (err) {
        attempt++;
        const delay = backoffDelay(attempt, { baseMs: 250, maxMs: 10_000 });
        if (attempt === 1 || attempt % 10 === 0) {
          this.log.warn({ key, attempt, err: describeError(err).message }, 'status write failed; retrying');
        }
        await sleep(delay);
      }
    }
    slot.writing = false;
  }
}
