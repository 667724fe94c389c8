/**
 * Bandwidth limits (`bandwidth: { store, vcenter }`): a token bucket per direction, shared by
 * every transfer that goes that way. A taker reserves its bytes at once and may drive the
 * bucket into debt; it then waits exactly as long as the debt takes to refill. So concurrent
 * transfers share the rate in arrival order, and no one sleeps a fixed time between chunks.
 */
import { Transform } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type { ByteSink } from '@ferry/shared';

export interface Clock {
  /** Milliseconds, monotonic. */
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  sleep: (ms) => delay(ms),
};

/** How many seconds of traffic the bucket may hold when idle (the largest burst). */
export const DEFAULT_BURST_SECONDS = 0.1;

export class TokenBucket {
  /** Bytes the bucket may hold; a full bucket lets this many pass at once. */
  readonly capacity: number;
  private readonly clock: Clock;
  private tokens: number;
  private last: number;

  constructor(
    /** Bytes per second. */
    readonly rate: number,
    opts: { burstBytes?: number; clock?: Clock } = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    if (!(rate > 0) || !Number.isFinite(rate)) throw new RangeError(`token bucket rate must be > 0, got ${rate}`);
    this.capacity = Math.max(1, opts.burstBytes ?? Math.round(rate * DEFAULT_BURST_SECONDS));
    this.tokens = this.capacity;
    this.last = this.clock.now();
  }

  /**
   * Takes `bytes` at time `now` (pure bucket math, no waiting) and answers how many ms the
   * caller must wait before sending them: 0 while the bucket covers them.
   */
  reserve(bytes: number, now: number = this.clock.now()): number {
    const elapsed = Math.max(0, now - this.last);
    this.last = Math.max(this.last, now);
    this.tokens = Math.min(this.capacity, this.tokens + (elapsed * this.rate) / 1000);
    this.tokens -= bytes;
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.rate);
  }

  /** Waits until `bytes` may be sent. */
  async take(bytes: number): Promise<void> {
    const wait = this.reserve(bytes);
    if (wait > 0) await this.clock.sleep(wait);
  }
}

/** Reserves `bytes` in every bucket at once; answers the wait of the slowest (ms, 0 when none is in debt). */
export function reserveAll(buckets: readonly TokenBucket[], bytes: number, clock: Clock = systemClock): number {
  const now = clock.now();
  let wait = 0;
  for (const b of buckets) wait = Math.max(wait, b.reserve(bytes, now));
  return wait;
}

/**
 * A pass-through stream limited by every bucket given (e.g. the agent-wide and the target's
 * `vcenter` limit): each chunk waits for the slowest of them. No buckets: no limit.
 */
export function throttle(buckets: readonly (TokenBucket | undefined)[], clock: Clock = systemClock): Transform {
  const active = buckets.filter((b): b is TokenBucket => b !== undefined);
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      const wait = reserveAll(active, chunk.length, clock);
      if (wait === 0) {
        cb(null, chunk);
        return;
      }
      clock.sleep(wait).then(
        () => cb(null, chunk),
        (err: unknown) => cb(err as Error),
      );
    },
  });
}

/**
 * `sink` limited by every bucket given: what it takes is reserved at once, and while the buckets
 * are in debt it takes nothing, so the reader pauses its socket until the debt is paid.
 */
export function throttledSink(sink: ByteSink, buckets: readonly TokenBucket[], clock: Clock = systemClock): ByteSink {
  let debt: Promise<void> | undefined;
  return {
    take(chunk) {
      if (debt) return 0;
      const n = sink.take(chunk);
      const wait = reserveAll(buckets, n, clock);
      if (wait > 0) {
        debt = clock.sleep(wait).then(() => {
          debt = undefined;
        });
      }
      return n;
    },
    async room() {
      if (debt) await debt;
      await sink.room();
    },
  };
}
