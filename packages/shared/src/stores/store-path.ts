import { InvalidNameError } from '../errors.js';
import type { ByteRange } from '../object-store.js';

function check(p: string, field: string): string[] {
  if (typeof p !== 'string') throw new InvalidNameError(field, String(p), 'must be a string');
  if (p.includes('\0')) throw new InvalidNameError(field, p, 'contains a NUL byte');
  if (p.includes('\\')) throw new InvalidNameError(field, p, 'contains a backslash; use "/" between segments');
  if (p.startsWith('/')) throw new InvalidNameError(field, p, 'must be relative to the store, not start with "/"');
  if (/^[A-Za-z]:/.test(p)) throw new InvalidNameError(field, p, 'must be relative to the store, not a drive path');
  const segments = p.split('/');
  if (segments.includes('..')) throw new InvalidNameError(field, p, 'must not contain ".." segments');
  return segments.filter((s) => s !== '' && s !== '.');
}

/**
 * The one spelling of an object path inside a store: `a/b/c.ova`, "/"-separated, relative.
 * Empty, absolute (`/x`, `C:…`) paths, `..` segments, backslashes and NUL are rejected with an
 * `InvalidNameError`; `.` and empty segments (`a//./b`) are dropped. Used by every store adapter,
 * so no path can leave its bucket prefix, repository or root directory.
 */
export function normalizeStorePath(p: string): string {
  const segments = check(p, 'store path');
  if (segments.length === 0) throw new InvalidNameError('store path', p, 'is empty');
  return segments.join('/');
}

/**
 * A listing prefix: like `normalizeStorePath` but `''` (everything) is allowed and a trailing
 * `/` is kept, so `list('ubuntu/')` does not also match `ubuntu-old/`.
 */
export function normalizeStorePrefix(prefix: string): string {
  const segments = check(prefix, 'store prefix');
  if (segments.length === 0) return '';
  const joined = segments.join('/');
  return prefix.endsWith('/') ? `${joined}/` : joined;
}

/** The HTTP Range header value of a byte range (`bytes=start-` or `bytes=start-end`). */
export function rangeHeader(range: ByteRange): string {
  return `bytes=${range.start}-${range.end ?? ''}`;
}
