/**
 * Errors of the vSphere Content Library client. Messages name the operation and what to do;
 * they never contain passwords or session ids.
 */
import { type ErrorCode, FerryError, isRetryableStatus } from '@ferry/shared';

/** A vSphere REST call failed: HTTP status (if any) and the vAPI error type/message. */
export class VsphereError extends FerryError {
  readonly status: number | undefined;
  readonly operation: string;
  /** vAPI error type, e.g. com.vmware.vapi.std.errors.already_exists, when the server sent one. */
  readonly errorType: string | undefined;

  constructor(
    operation: string,
    message: string,
    options: { cause?: unknown; status?: number; errorType?: string; retryable?: boolean; code?: ErrorCode } = {},
  ) {
    const retryable = options.retryable ?? (options.status === undefined || isRetryableStatus(options.status));
    super(options.code ?? 'VSPHERE_ERROR', `vSphere ${operation}: ${message}`, { cause: options.cause, retryable });
    this.status = options.status;
    this.operation = operation;
    this.errorType = options.errorType;
  }
}

/** vCenter refused the credentials. Not retried: the operator must fix them. */
export class VsphereAuthError extends VsphereError {
  constructor(
    url: string,
    username: string,
    options: { cause?: unknown; status?: number; passwordSource?: string } = {},
  ) {
    const source = options.passwordSource ?? 'vsphere.passwordFile (or FERRY_VSPHERE_PASSWORD)';
    super('login', `vCenter ${url} rejected user ${JSON.stringify(username)}: check vsphere.username and ${source}`, {
      cause: options.cause,
      status: options.status,
      code: 'VSPHERE_AUTH',
      retryable: false,
    });
  }
}

/** An update session ended in ERROR, did not validate, or could not be driven to DONE. */
export class UpdateSessionError extends VsphereError {
  constructor(
    readonly sessionId: string,
    operation: string,
    /** The server's error message (or the validation result), as vCenter reported it. */
    readonly serverMessage: string,
    options: {
      cause?: unknown;
      status?: number;
      retryable?: boolean;
      missingFiles?: string[];
      invalidFiles?: string[];
    } = {},
  ) {
    super(`update session ${operation}`, serverMessage, {
      cause: options.cause,
      status: options.status,
      retryable: options.retryable ?? false,
      code: 'VSPHERE_UPDATE_SESSION',
    });
    this.missingFiles = options.missingFiles ?? [];
    this.invalidFiles = options.invalidFiles ?? [];
  }
  readonly missingFiles: string[];
  readonly invalidFiles: string[];
}

/** A library item with ferry's name exists but was not made by ferry: ferry never touches it. */
export class ItemConflictError extends FerryError {
  constructor(readonly itemName: string) {
    super(
      'ITEM_CONFLICT',
      `library item ${JSON.stringify(itemName)} exists but was not created by ferry; rename it or change vsphere.itemName`,
    );
  }
}
