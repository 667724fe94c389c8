/**
 * How a failed vCenter request becomes a VsphereError: which code, whether a retry may help,
 * and a message that says what went wrong (the vAPI error's own text when there is one). Pure:
 * no session or connection state, so the rules have table tests of their own.
 */
import { isRetryableCode, isRetryableStatus } from '@ferry/shared';
import { RequestError } from 'got';
import { VsphereError } from '../errors.js';

/** A thrown request error (network, TLS, timeout, got's own) as a VsphereError of `operation`. */
export function toVsphereError(operation: string, err: unknown): VsphereError {
  if (err instanceof VsphereError) return err;
  const code = (err as { code?: string }).code;
  if (err instanceof RequestError || code !== undefined) {
    const status = err instanceof RequestError ? err.response?.statusCode : undefined;
    const tls = typeof code === 'string' && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code);
    const hint = tls ? " (set vsphere.caFile to vCenter's CA, or vsphere.insecure: true for a lab)" : '';
    return new VsphereError(operation, `${(err as Error).message}${hint}`, {
      cause: err,
      ...(status === undefined ? {} : { status }),
      // No code and no status: got failed before any answer (a network fault of its own).
      retryable:
        !tls && (status === undefined ? code === undefined || isRetryableCode(code) : isRetryableStatus(status)),
      ...(code === 'ETIMEDOUT' ? { code: 'VSPHERE_TIMEOUT' } : {}),
    });
  }
  return new VsphereError(operation, err instanceof Error ? err.message : String(err), {
    cause: err,
    retryable: false,
  });
}

/** An HTTP answer of 300 or more (or none: status 0) as a VsphereError of `operation`. */
export function httpError(operation: string, res: { statusCode: number; body: string }): VsphereError {
  const { type, message } = parseVapiError(res.body);
  const detail = message ?? type ?? (res.body.trim().slice(0, 200) || 'no details');
  return new VsphereError(operation, `HTTP ${res.statusCode}: ${detail}`, {
    status: res.statusCode,
    ...(type === undefined ? {} : { errorType: type }),
    ...(type?.endsWith('.already_exists') ? { code: 'VSPHERE_ALREADY_EXISTS' } : {}),
    ...(res.statusCode === 404 ? { code: 'VSPHERE_NOT_FOUND' } : {}),
    ...(res.statusCode === 401 ? { code: 'VSPHERE_UNAUTHENTICATED', retryable: true } : {}),
    // 429 and 5xx may pass, a 401 after a re-login too; everything else is a client or data problem.
    retryable: isRetryableStatus(res.statusCode) || res.statusCode === 401,
  });
}

/** The vAPI error type and messages of an error body (both styles: `value.messages` and top-level). */
export function parseVapiError(body: string): { type?: string; message?: string } {
  try {
    const e = JSON.parse(body) as {
      type?: string;
      value?: { messages?: { default_message?: string }[] };
      error_type?: string;
      messages?: { default_message?: string }[];
    };
    const type = e.type ?? e.error_type;
    const messages = (e.value?.messages ?? e.messages ?? []).map((m) => m.default_message).filter(Boolean);
    return {
      ...(type ? { type } : {}),
      ...(messages.length ? { message: `${messages.join('; ')}${type ? ` (${type})` : ''}` } : {}),
    };
  } catch {
    return {};
  }
}

/** What a log line says about an error: its code and message, never its cause chain or request. */
export function errInfo(err: unknown): { code?: string; message: string } {
  if (err instanceof VsphereError) return { code: err.code, message: err.message };
  return { message: err instanceof Error ? err.message : String(err) };
}
