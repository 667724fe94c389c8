/**
 * Every stable error code ferry writes (status records, metrics, exit messages), as one object so
 * that a code is named once and the retry policy (retry-policy.ts) has a rule for each.
 */
export const ErrorCodes = {
  ConfigInvalid: 'CONFIG_INVALID',
  SchemaInvalid: 'SCHEMA_INVALID',
  InvalidName: 'INVALID_NAME',
  SignatureInvalid: 'SIGNATURE_INVALID',
  ChecksumMismatch: 'CHECKSUM_MISMATCH',
  NotFound: 'NOT_FOUND',
  StoreError: 'STORE_ERROR',
  NatsError: 'NATS_ERROR',
  OvaInvalid: 'OVA_INVALID',
  CacheError: 'CACHE_ERROR',
  Internal: 'INTERNAL',
  // site agent
  VsphereError: 'VSPHERE_ERROR',
  VsphereAuth: 'VSPHERE_AUTH',
  VsphereUpdateSession: 'VSPHERE_UPDATE_SESSION',
  VsphereAlreadyExists: 'VSPHERE_ALREADY_EXISTS',
  VsphereNotFound: 'VSPHERE_NOT_FOUND',
  VsphereUnauthenticated: 'VSPHERE_UNAUTHENTICATED',
  VsphereTimeout: 'VSPHERE_TIMEOUT',
  ItemConflict: 'ITEM_CONFLICT',
  RollbackRefused: 'ROLLBACK_REFUSED',
  ManifestMissing: 'MANIFEST_MISSING',
  EventTooLarge: 'EVENT_TOO_LARGE',
  EventNotJson: 'EVENT_NOT_JSON',
  DeployCheckFailed: 'DEPLOY_CHECK_FAILED',
  PullThumbprintMismatch: 'PULL_THUMBPRINT_MISMATCH',
  PullIncomplete: 'PULL_INCOMPLETE',
  SubscriptionSourceMissing: 'SUBSCRIPTION_SOURCE_MISSING',
  SubscriptionNotPublished: 'SUBSCRIPTION_NOT_PUBLISHED',
  SubscriptionTargetConflict: 'SUBSCRIPTION_TARGET_CONFLICT',
  SubscriptionItemMissing: 'SUBSCRIPTION_ITEM_MISSING',
  SubscriptionSyncTimeout: 'SUBSCRIPTION_SYNC_TIMEOUT',
  SubscriptionBadRequest: 'SUBSCRIPTION_BAD_REQUEST',
  // coordinator
  Usage: 'USAGE',
  ImageNotFound: 'IMAGE_NOT_FOUND',
  ImageRetired: 'IMAGE_RETIRED',
  PublishConflict: 'PUBLISH_CONFLICT',
  InputFile: 'INPUT_FILE',
  Interrupted: 'INTERRUPTED',
  UnknownSite: 'UNKNOWN_SITE',
  SiteActive: 'SITE_ACTIVE',
  ResignIncomplete: 'RESIGN_INCOMPLETE',
  RolloutNotFound: 'ROLLOUT_NOT_FOUND',
  RolloutState: 'ROLLOUT_STATE',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/**
 * One class per failure. Every error carries a stable `code` (for status records,
 * metrics and scripts) and, where it wraps a library error, the original as `cause`.
 * Messages say what was wrong and what to do; they never contain secrets.
 */
export class FerryError extends Error {
  readonly code: ErrorCode;
  /** Whether retrying the same operation later may succeed (network, 5xx, timeouts). */
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retryable = options.retryable ?? false;
  }

  toJSON(): { code: ErrorCode; message: string } {
    return { code: this.code, message: this.message };
  }
}

/** A config file or value is missing or invalid. */
export class ConfigError extends FerryError {
  constructor(
    message: string,
    readonly file?: string,
    readonly key?: string,
    options: { cause?: unknown } = {},
  ) {
    super('CONFIG_INVALID', message, options);
  }
}

/** A manifest, event or status record does not match its schema. */
export class SchemaError extends FerryError {
  constructor(
    readonly what: string,
    readonly issues: readonly string[],
    options: { cause?: unknown } = {},
  ) {
    super('SCHEMA_INVALID', `invalid ${what}: ${issues.join('; ')}`, options);
  }
}

/** An image name, version, site id or store path that ferry refuses to use. */
export class InvalidNameError extends FerryError {
  constructor(
    readonly field: string,
    readonly value: string,
    reason: string,
  ) {
    super('INVALID_NAME', `invalid ${field} ${JSON.stringify(value)}: ${reason}`);
  }
}

/** A manifest signature is missing, malformed, or made by a key that is not trusted. */
export class SignatureError extends FerryError {
  constructor(
    message: string,
    readonly keyId?: string,
  ) {
    super('SIGNATURE_INVALID', message);
  }
}

/** Bytes did not hash or size to what the manifest (or the OVA's .mf) promised. */
export class ChecksumMismatchError extends FerryError {
  constructor(
    readonly subject: string,
    readonly expected: string,
    readonly actual: string,
    readonly kind: 'sha256' | 'sha1' | 'size' = 'sha256',
  ) {
    super('CHECKSUM_MISMATCH', `${kind} mismatch for ${subject}: expected ${expected}, got ${actual}`);
  }
}

/** An object that should be in a store is not there. Not retried: the operator must act. */
export class NotFoundError extends FerryError {
  constructor(
    readonly store: string,
    readonly path: string,
    options: { cause?: unknown } = {},
  ) {
    super('NOT_FOUND', `${path} not found in ${store}: publish it again or fix the artifact path`, options);
  }
}

/** Any other failure talking to a store; `retryable` for 5xx, timeouts and resets. */
export class StoreError extends FerryError {
  constructor(
    readonly store: string,
    readonly operation: string,
    readonly path: string,
    message: string,
    options: { cause?: unknown; retryable?: boolean; status?: number } = {},
  ) {
    super('STORE_ERROR', `${operation} ${path} on ${store}: ${message}`, options);
    this.status = options.status;
  }
  readonly status: number | undefined;
}

/** A NATS or JetStream operation failed. */
export class MessagingError extends FerryError {
  constructor(message: string, options: { cause?: unknown; retryable?: boolean } = {}) {
    super('NATS_ERROR', message, { retryable: true, ...options });
  }
}

/** Error text safe to show anywhere: message of a FerryError, or a generic one for the rest. */
export function describeError(err: unknown): { code: ErrorCode; message: string } {
  if (err instanceof FerryError) return { code: err.code, message: err.message };
  if (err instanceof Error) return { code: 'INTERNAL', message: err.message };
  return { code: 'INTERNAL', message: String(err) };
}

/**
 * What a file-system error means, in words: `does not exist`, `is a directory`, … (the raw code
 * last, for searching). For messages of the form `<setting>: <path> <reason>: <what to do>`.
 */
export function fsReason(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'does not exist';
    case 'EISDIR':
      return 'is a directory, not a file';
    case 'ENOTDIR':
      return 'has a file where a directory is expected in its path';
    case 'EEXIST':
      return 'already exists';
    case 'EACCES':
    case 'EPERM':
      return 'is not accessible (permission denied)';
    case 'ENOSPC':
      return 'cannot be written: no space left on the device';
    default:
      return `cannot be used: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** An OVA that is not what it claims: bad entry, OVF/manifest mismatch, unsafe tar content. */
export class OvaFormatError extends FerryError {
  constructor(
    readonly entry: string | undefined,
    /** What is wrong with it (the message without the entry's name). */
    readonly reason: string,
    options: { cause?: unknown } = {},
  ) {
    super(
      'OVA_INVALID',
      entry === undefined ? `OVA: ${reason}` : `OVA entry ${JSON.stringify(entry)}: ${reason}`,
      options,
    );
  }
}

/** A local file or folder that ferry needs cannot be read or written; `path` names it. */
export class LocalPathError extends FerryError {
  constructor(
    code: ErrorCode,
    readonly path: string,
    message: string,
    options: { cause?: unknown; retryable?: boolean } = {},
  ) {
    super(code, message, options);
  }
}

/** The local cache (`path`: its folder, or the file) cannot hold, write or keep a download. */
export class CacheError extends LocalPathError {
  constructor(dir: string, message: string, options?: { cause?: unknown; retryable?: boolean }) {
    super('CACHE_ERROR', dir, message, options);
  }
}
