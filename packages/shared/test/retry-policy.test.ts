import {
  backoffDelay,
  ChecksumMismatchError,
  ERROR_CODE_RULES,
  ErrorCodes,
  FerryError,
  isPermanentFailure,
  isRetryable,
  isRetryableStatus,
  NotFoundError,
  OvaFormatError,
  retryDecision,
  StoreError,
} from '@ferry/shared';
import { describe, expect, it } from 'vitest';

const sysError = (code: string) => Object.assign(new Error(code), { code });
const named = (name: string) => Object.assign(new Error(name), { name });
const store = (retryable: boolean) => new StoreError('s3', 'get', 'a.ova', 'x', { retryable });

describe('isRetryable: one table for every retry site', () => {
  const cases: Array<[string, unknown, boolean]> = [
    ['connection reset', sysError('ECONNRESET'), true],
    ['connection refused', sysError('ECONNREFUSED'), true],
    ['socket timeout (request lib)', sysError('ESOCKETTIMEDOUT'), true],
    ['network down', sysError('ENETDOWN'), true],
    ['undici connect timeout', sysError('UND_ERR_CONNECT_TIMEOUT'), true],
    ['premature close', sysError('ERR_STREAM_PREMATURE_CLOSE'), true],
    ['host not found (config, not a passing fault)', sysError('ENOTFOUND'), false],
    ['local I/O error', sysError('EIO'), true],
    ['permission denied', sysError('EACCES'), false],
    ['timer timeout', named('TimeoutError'), true],
    ['our own cancellation', named('AbortError'), false],
    ['reset in the cause chain', new Error('wrapped', { cause: sysError('ECONNRESET') }), true],
    ['plain error', new Error('boom'), false],
    ['not an error', 'boom', false],
    ['undefined', undefined, false],
    ['store 5xx (by-error, retryable)', store(true), true],
    ['store 4xx (by-error, not retryable)', store(false), false],
    ['not found never, whatever the flag says', new NotFoundError('s3', 'a.ova'), false],
    ['checksum mismatch is permanent', new ChecksumMismatchError('a.ova', 'aa', 'bb'), false],
    ['an OVA that lies is permanent', new OvaFormatError('disk.vmdk', 'short'), false],
    ['vCenter 401: always (logged in again)', new FerryError('VSPHERE_UNAUTHENTICATED', 'x'), true],
    ['vCenter auth: never', new FerryError('VSPHERE_AUTH', 'x', { retryable: true }), false],
  ];
  it.each(cases)('%s', (_what, err, expected) => {
    expect(isRetryable(err)).toBe(expected);
  });
});

describe('isRetryableStatus', () => {
  it.each([
    [200, false],
    [400, false],
    [401, false],
    [404, false],
    [416, false],
    [429, true],
    [500, true],
    [503, true],
  ])('HTTP %i → %s', (status, expected) => {
    expect(isRetryableStatus(status)).toBe(expected);
  });
});

describe('isPermanentFailure', () => {
  it.each([
    ['CHECKSUM_MISMATCH', true],
    ['OVA_INVALID', true],
    ['SIGNATURE_INVALID', true],
    ['ROLLBACK_REFUSED', true],
    ['ITEM_CONFLICT', true],
    ['STORE_ERROR', false],
    ['VSPHERE_ERROR', false],
    ['NOT_FOUND', false],
    ['SOMETHING_ELSE', false],
  ])('%s → %s', (code, expected) => {
    expect(isPermanentFailure(code)).toBe(expected);
  });

  it('every error code has a rule', () => {
    expect(Object.keys(ERROR_CODE_RULES).sort()).toEqual(Object.values(ErrorCodes).sort());
  });
});

describe('retryDecision', () => {
  const options = { maxAttempts: 4, baseMs: 100, maxMs: 1_000, jitter: 0 };
  const transient = sysError('ECONNRESET');
  it.each([
    ['first failure, transient', transient, 1, { retry: true, delayMs: 100 }],
    ['second failure doubles', transient, 2, { retry: true, delayMs: 200 }],
    ['third failure doubles again', transient, 3, { retry: true, delayMs: 400 }],
    ['last attempt used', transient, 4, { retry: false, delayMs: 0 }],
    ['not retryable', new NotFoundError('s3', 'a.ova'), 1, { retry: false, delayMs: 0 }],
  ])('%s', (_what, err, attempt, expected) => {
    expect(retryDecision(err, attempt, options)).toEqual(expected);
  });

  it('caps the delay at maxMs and never gives up with maxAttempts Infinity', () => {
    expect(retryDecision(transient, 50, { ...options, maxAttempts: Number.POSITIVE_INFINITY })).toEqual({
      retry: true,
      delayMs: 1_000,
    });
  });

  it('jitter randomises part of the delay', () => {
    expect(backoffDelay(1, { baseMs: 1_000, maxMs: 10_000, jitter: 0.5 }, () => 0)).toBe(500);
    expect(backoffDelay(1, { baseMs: 1_000, maxMs: 10_000, jitter: 0.5 }, () => 1)).toBe(1_000);
    expect(retryDecision(transient, 1, { ...options, jitter: 1 }, () => 0.25)).toEqual({ retry: true, delayMs: 25 });
  });
});
