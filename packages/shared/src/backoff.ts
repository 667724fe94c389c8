import { FerryError } from './errors.js';

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
  /** 0..1: fraction of the delay that is randomised ("full jitter" at 1). */
  jitter?: number;
}

/** Delay before retry number `attempt` (1-based): exponential, capped, jittered. Pure given `random`. */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const exp = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempt - 1));
  const jitter = policy.jitter ?? 0.5;
  return Math.round(exp * (1 - jitter) + exp * jitter * random());
}

const RETRYABLE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
]);

/** Whether an error is worth retrying: transient network faults, 5xx, timeouts — not 4xx, not bad bytes. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof FerryError) return err.retryable;
  const e = err as { code?: string; name?: string; cause?: unknown } | undefined;
  if (!e) return false;
  if (e.code && RETRYABLE_CODES.has(e.code)) return true;
  if (e.name === 'TimeoutError' || e.name === 'AbortError') return false;
  return e.cause !== undefined && e.cause !== err ? isRetryable(e.cause) : false;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
