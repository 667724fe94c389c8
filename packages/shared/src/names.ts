import { InvalidNameError } from './errors.js';

/** Image names and site ids: letters, digits, `_` and `-` (they become NATS subject tokens and KV key parts). */
const NAME_RE = /^[A-Za-z0-9_-]{1,128}$/;
/** Versions may also contain `.` (KV keys allow it; `ubuntu.2026.11.21` is still parsed by splitting on the first `.`). */
const VERSION_RE = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;

export function assertImageName(value: string, field = 'name'): string {
  if (!NAME_RE.test(value)) {
    throw new InvalidNameError(field, value, 'use 1-128 of A-Z a-z 0-9 _ - (no dots, spaces or slashes)');
  }
  return value;
}

export function assertVersion(value: string, field = 'version'): string {
  if (!VERSION_RE.test(value) || value.endsWith('.') || value.includes('..')) {
    throw new InvalidNameError(
      field,
      value,
      'use 1-128 of A-Z a-z 0-9 _ - . (not starting or ending with a dot, no "..")',
    );
  }
  return value;
}

export function assertSiteId(value: string, field = 'site'): string {
  if (!NAME_RE.test(value) || value === 'all') {
    throw new InvalidNameError(field, value, 'use 1-128 of A-Z a-z 0-9 _ - ("all" is reserved)');
  }
  return value;
}

export function isImageName(value: string): boolean {
  return NAME_RE.test(value);
}
export function isVersion(value: string): boolean {
  return VERSION_RE.test(value) && !value.endsWith('.') && !value.includes('..');
}

/** `name@version` as operators type it; returns the parts validated. */
export function parseImageRef(ref: string): { name: string; version?: string } {
  const at = ref.indexOf('@');
  if (at === -1) return { name: assertImageName(ref) };
  return { name: assertImageName(ref.slice(0, at)), version: assertVersion(ref.slice(at + 1)) };
}

export function imageRef(name: string, version: string): string {
  return `${name}@${version}`;
}
