/**
 * The one way ferry waits for vCenter to finish something (an update session to be DONE, PULL
 * files to be READY, a vim25 task to succeed): probe, then back off from the first interval to
 * the longest, until the probe answers or the deadline passes. The intervals live here only.
 */
import { setTimeout as delay } from 'node:timers/promises';

export const POLL_INTERVALS = {
  /** First wait after a probe that is not done yet. */
  firstMs: 100,
  /** Each wait is this factor longer than the one before… */
  factor: 2,
  /** …up to this: a finished transfer is noticed within 2 s, at one cheap GET per 2 s. */
  maxMs: 2_000,
} as const;

export interface PollOptions {
  /** Give up after this long (ms from the first probe). */
  timeoutMs: number;
  /** The error to throw when the deadline passes. */
  onTimeout: () => Error;
  /** Overrides of the intervals (tests). */
  intervals?: Partial<typeof POLL_INTERVALS>;
  /** Stop early (e.g. the agent shuts down): the signal's reason is thrown. */
  signal?: AbortSignal;
}

/**
 * Calls `probe` until it returns a value other than undefined and returns that value. A probe
 * that throws ends the polling with its error (a terminal state is the probe's to report).
 */
export async function pollUntil<T>(probe: () => Promise<T | undefined>, opts: PollOptions): Promise<T> {
  const iv = { ...POLL_INTERVALS, ...opts.intervals };
  const deadline = Date.now() + opts.timeoutMs;
  let wait: number = iv.firstMs;
  for (;;) {
    opts.signal?.throwIfAborted();
    const value = await probe();
    if (value !== undefined) return value;
    const left = deadline - Date.now();
    if (left <= 0) throw opts.onTimeout();
    await delay(Math.min(wait, left), undefined, opts.signal ? { signal: opts.signal } : undefined);
    wait = Math.min(wait * iv.factor, iv.maxMs);
  }
}
