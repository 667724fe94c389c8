/** Table tests of how failed vCenter requests become VsphereErrors (code, retryable, message). */
import { isRetryable } from '@ferry/shared';
import { describe, expect, it } from 'vitest';
import { VsphereError } from '../src/errors.js';
import { httpError, parseVapiError, toVsphereError } from '../src/vcenter/vsphere-error-mapping.js';

const netError = (code: string, message = `connect ${code}`) => Object.assign(new Error(message), { code });

describe('toVsphereError', () => {
  it.each([
    { name: 'a connection reset', err: netError('ECONNRESET'), code: 'VSPHERE_ERROR', retryable: true },
    { name: 'a timeout', err: netError('ETIMEDOUT'), code: 'VSPHERE_TIMEOUT', retryable: true },
    {
      name: 'an untrusted certificate (with what to set)',
      err: netError('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate'),
      code: 'VSPHERE_ERROR',
      retryable: false,
      message: /vsphere\.caFile.*vsphere\.insecure/,
    },
    { name: 'a plain bug', err: new TypeError('x is undefined'), code: 'VSPHERE_ERROR', retryable: false },
  ])('$name', ({ err, code, retryable, message }) => {
    const mapped = toVsphereError('list items', err);
    expect(mapped).toBeInstanceOf(VsphereError);
    expect(mapped.code).toBe(code);
    expect(isRetryable(mapped)).toBe(retryable);
    expect(mapped.message).toMatch(/^vSphere list items: /);
    if (message) expect(mapped.message).toMatch(message);
    expect(mapped.cause).toBe(err);
  });

  it('keeps a VsphereError as it is', () => {
    const err = new VsphereError('login', 'no session id', { retryable: false });
    expect(toVsphereError('other', err)).toBe(err);
  });
});

describe('httpError', () => {
  const vapi = (type: string, message: string) =>
    JSON.stringify({ type, value: { messages: [{ default_message: message }] } });
  it.each([
    { status: 404, body: '', code: 'VSPHERE_NOT_FOUND', retryable: false, detail: 'HTTP 404: no details' },
    { status: 401, body: '', code: 'VSPHERE_UNAUTHENTICATED', retryable: true, detail: 'HTTP 401: no details' },
    { status: 503, body: 'busy', code: 'VSPHERE_ERROR', retryable: true, detail: 'HTTP 503: busy' },
    { status: 429, body: '', code: 'VSPHERE_ERROR', retryable: true, detail: 'HTTP 429: no details' },
    {
      status: 400,
      body: vapi('com.vmware.vapi.std.errors.already_exists', 'An item named x exists'),
      code: 'VSPHERE_ALREADY_EXISTS',
      retryable: false,
      detail: 'HTTP 400: An item named x exists (com.vmware.vapi.std.errors.already_exists)',
    },
    {
      status: 400,
      body: JSON.stringify({ error_type: 'INVALID_ARGUMENT', messages: [{ default_message: 'bad size' }] }),
      code: 'VSPHERE_ERROR',
      retryable: false,
      detail: 'HTTP 400: bad size (INVALID_ARGUMENT)',
    },
  ])('HTTP $status $code', ({ status, body, code, retryable, detail }) => {
    const err = httpError('create item', { statusCode: status, body });
    expect(err.code).toBe(code);
    expect(err.status).toBe(status);
    expect(isRetryable(err)).toBe(retryable);
    expect(err.message).toBe(`vSphere create item: ${detail}`);
  });
});

describe('parseVapiError', () => {
  it.each([
    { body: 'not json', parsed: {} },
    { body: '{}', parsed: {} },
    { body: JSON.stringify({ type: 't' }), parsed: { type: 't' } },
    { body: JSON.stringify({ messages: [{ default_message: 'm' }] }), parsed: { message: 'm' } },
  ])('$body', ({ body, parsed }) => {
    expect(parseVapiError(body)).toEqual(parsed);
  });
});
