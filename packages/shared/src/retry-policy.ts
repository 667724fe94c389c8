/**
 * ferry's one retry policy: which failures a later attempt may fix, and when to make it.
 * Every retry site (job runner, download cache, status writer, store adapters, vCenter client)
 * decides through this module, over the tables below, as got's `calculateRetryDelay` does.
 */
import { type ErrorCode, FerryError } from './errors.js';

/**
 * How each ferry error code is retried:
 * - `by-error`: the error says (`retryable`, set from its HTTP status by `isRetryableStatus` or
 *   from a low-level code in `LOW_LEVEL_CODES`);
 * - `always`: a later attempt is expected to pass (e.g. a vCenter session that is logged in again);
 * - `never`: the operator must act (config, credentials, a missing object);
 * - `permanent`: never, and another download of the same bytes cannot fix it either: a reconcile
 *   pass leaves such an image failed until it is republished.
 */
export type RetryRule = 'by-error' | 'always' | 'never' | 'permanent';

export const ERROR_CODE_RULES: Readonly<Record<ErrorCode, RetryRule>> = {
  CONFIG_INVALID: 'never',
  SCHEMA_INVALID: 'never',
  INVALID_NAME: 'never',
  SIGNATURE_INVALID: 'permanent',
  CHECKSUM_MISMATCH: 'permanent',
  NOT_FOUND: 'never',
  STORE_ERROR: 'by-error',
  NATS_ERROR: 'by-error',
  OVA_INVALID: 'permanent',
  // A cache that cannot write stays so until an operator acts; a cached file found bad and
  // downloaded again is worth another attempt (it says so by `retryable`).
  CACHE_ERROR: 'by-error',
  INTERNAL: 'never',
  VSPHERE_ERROR: 'by-error',
  VSPHERE_AUTH: 'never',
  VSPHERE_UPDATE_SESSION: 'by-error',
  VSPHERE_ALREADY_EXISTS: 'never',
  VSPHERE_NOT_FOUND: 'never',
  VSPHERE_UNAUTHENTICATED: 'always',
  VSPHERE_TIMEOUT: 'by-error',
  ITEM_CONFLICT: 'permanent',
  ROLLBACK_REFUSED: 'permanent',
  MANIFEST_MISSING: 'never',
  EVENT_TOO_LARGE: 'never',
  EVENT_NOT_JSON: 'never',
  // A deploy that fails proves the image bad at this site; a timeout says so by `retryable`.
  DEPLOY_CHECK_FAILED: 'by-error',
  PULL_THUMBPRINT_MISMATCH: 'never',
  PULL_INCOMPLETE: 'by-error',
  // A subscription that is misconfigured stays so until an operator acts; a sync may finish later.
  SUBSCRIPTION_SOURCE_MISSING: 'by-error',
  SUBSCRIPTION_NOT_PUBLISHED: 'never',
  SUBSCRIPTION_TARGET_CONFLICT: 'never',
  SUBSCRIPTION_ITEM_MISSING: 'by-error',
  SUBSCRIPTION_SYNC_TIMEOUT: 'always',
  SUBSCRIPTION_BAD_REQUEST: 'never',
  USAGE: 'never',
  IMAGE_NOT_FOUND: 'never',
  IMAGE_RETIRED: 'never',
  PUBLISH_CONFLICT: 'never',
  INPUT_FILE: 'never',
  INTERRUPTED: 'never',
  UNKNOWN_SITE: 'never',
  SITE_ACTIVE: 'never',
  RESIGN_INCOMPLETE: 'never',
  ROLLOUT_NOT_FOUND: 'never',
  ROLLOUT_STATE: 'never',
};

/**
 * Low-level failures (Node and undici error codes, error names of SDKs and timers) and whether a
 * later attempt may not see them. `network`: a socket or DNS fault; `io`: a local file system one.
 */
export const LOW_LEVEL_CODES: Readonly<Record<string, { retry: boolean; kind: 'network' | 'io' | 'timeout' }>> = {
  ECONNRESET: { retry: true, kind: 'network' },
  ECONNREFUSED: { retry: true, kind: 'network' },
  ECONNABORTED: { retry: true, kind: 'network' },
  EPIPE: { retry: true, kind: 'network' },
  ETIMEDOUT: { retry: true, kind: 'network' },
  ESOCKETTIMEDOUT: { retry: true, kind: 'network' },
  EAI_AGAIN: { retry: true, kind: 'network' },
  EHOSTUNREACH: { retry: true, kind: 'network' },
  ENETUNREACH: { retry: true, kind: 'network' },
  ENETDOWN: { retry: true, kind: 'network' },
  ERR_STREAM_PREMATURE_CLOSE: { retry: true, kind: 'network' },
  UND_ERR_SOCKET: { retry: true, kind: 'network' },
  UND_ERR_CONNECT_TIMEOUT: { retry: true, kind: 'network' },
  // The name does not resolve at all: a wrong host name in the config, not a passing fault.
  ENOTFOUND: { retry: false, kind: 'network' },
  EIO: { retry: true, kind: 'io' },
  EAGAIN: { retry: true, kind: 'io' },
  EBUSY: { retry: true, kind: 'io' },
  EMFILE: { retry: true, kind: 'io' },
  ENFILE: { retry: true, kind: 'io' },
  TimeoutError: { retry: true, kind: 'timeout' },
  RequestTimeout: { retry: true, kind: 'timeout' },
  RequestTimeoutException: { retry: true, kind: 'timeout' },
  // Our own cancellation (AbortController): never retried.
  AbortError: { retry: false, kind: 'timeout' },
};

/** S3 error names of a store that is busy or briefly broken. */
const RETRYABLE_SERVICE_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestTimeout',
  'ServiceUnavailable',
  'InternalError',
]);

/** HTTP answers a later attempt may not get: throttling and server errors. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/** An S3 (or similar) service error name that means "try again later". */
export function isRetryableServiceName(name: string): boolean {
  return RETRYABLE_SERVICE_NAMES.has(name);
}

/** Whether a low-level code (ECONNRESET, EIO, TimeoutError, …) is worth another attempt. */
export function isRetryableCode(code: string): boolean {
  return LOW_LEVEL_CODES[code]?.retry === true;
}

/** Whether a code names a low-level failure at all (retryable or not). */
export function lowLevelKind(code: string): 'network' | 'io' | 'timeout' | undefined {
  return LOW_LEVEL_CODES[code]?.kind;
}

/** Failures that another download of the same bytes cannot fix (status record codes). */
export function isPermanentFailure(code: string): boolean {
  return ERROR_CODE_RULES[code as ErrorCode] === 'permanent';
}

/** Whether retrying the operation that threw `err` later may succeed. */
export function isRetryable(err: unknown): boolean {
  if (err instanceof FerryError) {
    const rule = ERROR_CODE_RULES[err.code] ?? 'by-error';
    return rule === 'always' || (rule === 'by-error' && err.retryable);
  }
  const e = err as { code?: unknown; name?: unknown; cause?: unknown } | undefined;
  if (typeof e !== 'object' || e === null) return false;
  for (const key of [e.code, e.name]) {
    if (typeof key === 'string' && key in LOW_LEVEL_CODES) return isRetryableCode(key);
  }
  return e.cause !== undefined && e.cause !== err ? isRetryable(e.cause) : false;
}

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

export interface RetryOptions extends BackoffPolicy {
  /** Attempts in all, the first included; `Infinity` for a loop that never gives up. */
  maxAttempts: number;
}

export interface RetryDecision {
  retry: boolean;
  /** How long to wait before the next attempt (0 when not retrying). */
  delayMs: number;
}

/**
 * After attempt number `attempt` (1-based) failed with `err`: retry or not, and when.
 * Pure given `random`.
 */
export function retryDecision(
  err: unknown,
  attempt: number,
  options: RetryOptions,
  random: () => number = Math.random,
): RetryDecision {
  if (attempt >= options.maxAttempts || !isRetryable(err)) return { retry: false, delayMs: 0 };
  return { retry: true, delayMs: backoffDelay(attempt, options, random) };
}
