import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { type Clock, TokenBucket, throttle } from '../src/transfer/token-bucket.js';

/** A clock whose sleeps advance time instantly and are recorded. */
function fakeClock(): Clock & { t: number; slept: number[] } {
  const c = {
    t: 0,
    slept: [] as number[],
    now: () => c.t,
    sleep: async (ms: number) => {
      c.slept.push(ms);
      c.t += ms;
    },
  };
  return c;
}

const MiB = 2 ** 20;

describe('TokenBucket.reserve', () => {
  it.each([
    // rate B/s, burst, [at ms, bytes, expected wait ms]...
    { name: 'a full bucket lets the burst pass', rate: 1000, burst: 100, steps: [[0, 100, 0]] },
    { name: 'debt waits exactly its refill time', rate: 1000, burst: 100, steps: [[0, 300, 200]] },
    {
      name: 'a second taker queues behind the first',
      rate: 1000,
      burst: 100,
      steps: [
        [0, 300, 200],
        [0, 100, 300],
      ],
    },
    {
      name: 'idle time refills, but only up to the capacity',
      rate: 1000,
      burst: 100,
      steps: [
        [0, 100, 0],
        [10_000, 100, 0],
        [10_000, 50, 50],
      ],
    },
    {
      name: 'partial refill',
      rate: 1000,
      burst: 100,
      steps: [
        [0, 100, 0],
        [40, 100, 60],
      ],
    },
  ])('$name', ({ rate, burst, steps }) => {
    const clock = fakeClock();
    const b = new TokenBucket(rate, { burstBytes: burst, clock });
    for (const [at, bytes, wait] of steps) expect(b.reserve(bytes!, at)).toBe(wait);
  });

  it('holds 0.1 s of traffic by default and refuses a rate of 0', () => {
    expect(new TokenBucket(50 * MiB, { clock: fakeClock() }).capacity).toBe(5 * MiB);
    expect(() => new TokenBucket(0)).toThrow(/rate must be > 0/);
  });

  it('take() keeps the long-run rate: 256 MiB at 50 MiB/s takes (256 - burst) / 50 s of waiting', async () => {
    const clock = fakeClock();
    const b = new TokenBucket(50 * MiB, { clock });
    for (let sent = 0; sent < 256 * MiB; sent += MiB) await b.take(MiB);
    const expected = ((256 * MiB - b.capacity) / (50 * MiB)) * 1000;
    expect(clock.t).toBeGreaterThanOrEqual(expected);
    expect(clock.t).toBeLessThan(expected + 256); // at most 1 ms of rounding per take
  });
});

describe('throttle', () => {
  it('passes every byte in order and waits for the slowest bucket', async () => {
    const clock = fakeClock();
    const fast = new TokenBucket(1000 * MiB, { burstBytes: MiB, clock });
    const slow = new TokenBucket(10 * MiB, { burstBytes: MiB, clock });
    const chunks = Array.from({ length: 20 }, (_, i) => Buffer.alloc(MiB, i));
    const got: Buffer[] = [];
    await pipeline(
      Readable.from(chunks),
      throttle([fast, undefined, slow], clock),
      new Writable({
        write(chunk: Buffer, _e, cb) {
          got.push(chunk);
          cb();
        },
      }),
    );
    expect(Buffer.concat(got).equals(Buffer.concat(chunks))).toBe(true);
    // 19 MiB beyond the burst at 10 MiB/s.
    expect(clock.t).toBeGreaterThanOrEqual(1900);
    expect(clock.t).toBeLessThan(1950);
  });

  it('without buckets it never waits', async () => {
    const clock = fakeClock();
    await pipeline(
      Readable.from([Buffer.alloc(10 * MiB)]),
      throttle([], clock),
      new Writable({ write: (_c, _e, cb) => cb() }),
    );
    expect(clock.slept).toEqual([]);
  });
});
