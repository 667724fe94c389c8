/**
 * Error plumbing shared by the store adapters: which low-level failures are worth retrying, a
 * secret-free `cause`, and a body stream whose errors come out as `StoreError`s.
 */
import { finished, PassThrough, type Readable } from 'node:stream';
import { FerryError } from '../errors.js';
import { isRetryableCode, lowLevelKind } from '../retry-policy.js';

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** Every error in `err`'s cause chain (and AggregateError members), outermost first. */
function chain(err: unknown): ErrorLike[] {
  const out: ErrorLike[] = [];
  const queue: unknown[] = [err];
  while (queue.length > 0 && out.length < 10) {
    const e = queue.shift();
    if (typeof e !== 'object' || e === null) continue;
    const el = e as ErrorLike;
    out.push(el);
    if (el.cause !== undefined) queue.push(el.cause);
    if (Array.isArray(el.errors)) queue.push(...el.errors);
  }
  return out;
}

/** The code (ECONNRESET, TimeoutError, …) of a retryable network failure anywhere in `err`'s chain, if any. */
export function networkErrorCode(err: unknown): string | undefined {
  for (const e of chain(err)) {
    for (const key of [e.code, e.name]) {
      if (typeof key !== 'string' || !isRetryableCode(key)) continue;
      const kind = lowLevelKind(key);
      if (kind === 'network' || kind === 'timeout') return key;
    }
  }
  return undefined;
}

/** `code` of a "host not found" DNS failure in the chain. */
export function isHostNotFound(err: unknown): boolean {
  return chain(err).some((e) => e.code === 'ENOTFOUND');
}

/** Replace every occurrence of a secret in `text` with `[redacted]`. */
export function redact(text: string, secrets: ReadonlyArray<string | undefined>): string {
  let out = text;
  for (const s of secrets) if (s && s.length >= 4) out = out.split(s).join('[redacted]');
  return out;
}

/**
 * A plain Error to use as `cause`: name, code and message of the library error only. Library
 * errors carry request options (headers with tokens), responses and sockets; none of that may
 * reach a log through an error serializer.
 */
export function safeCause(err: unknown, secrets: ReadonlyArray<string | undefined> = []): Error {
  if (err instanceof FerryError) return err;
  const e = (typeof err === 'object' && err !== null ? err : { message: String(err) }) as ErrorLike;
  const cause = new Error(redact(String(e.message ?? ''), secrets));
  cause.name = typeof e.name === 'string' ? e.name : 'Error';
  const code = typeof e.code === 'string' ? e.code : networkErrorCode(err);
  if (code) (cause as Error & { code?: string }).code = code;
  return cause;
}

/**
 * Pipe a response body through a PassThrough so errors that happen while the caller reads
 * (reset, premature close) reach it mapped by `mapError` (a retryable `StoreError`, typically).
 */
export function guardStream(body: Readable, mapError: (err: unknown) => Error): Readable {
  const out = new PassThrough({ highWaterMark: 1024 * 1024 });
  // Not stream.pipeline: it would destroy `out` with the raw error before we could map it.
  body.pipe(out);
  finished(body, (err) => {
    if (err && !out.destroyed) out.destroy(mapError(err));
  });
  // A caller that stops reading and destroys our stream releases the socket too.
  out.once('close', () => {
    if (!body.readableEnded && !body.destroyed) body.destroy();
  });
  return out;
}
