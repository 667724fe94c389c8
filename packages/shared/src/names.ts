import { InvalidNameError } from './errors.js';

/**
 * Image names and versions as people write them (`ubuntu-22.04`, `rhel-9.4`, `1.2.3+build.7`).
 * They start with a letter or digit, so a KV key part made from one never starts with `_` (the
 * `<site>._reconcile` / `<site>._control` keys stay unambiguous) and no name is `.` or `..`.
 */
const IMAGE_PART_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;
/** Site ids become NATS subject tokens and consumer names as they are: no dots. */
const SITE_RE = /^[A-Za-z0-9_-]{1,128}$/;

/** The naming rule, as every error and schema message states it. */
export const IMAGE_NAME_RULE =
  'use 1-128 of A-Z a-z 0-9 . _ + -, starting with a letter or digit, without ".." and not ending in "."';
export const SITE_ID_RULE = 'use 1-128 of A-Z a-z 0-9 _ - ("all" is reserved)';

function isImagePart(value: string): boolean {
  return IMAGE_PART_RE.test(value) && !value.includes('..') && !value.endsWith('.');
}

export function isImageName(value: string): boolean {
  return isImagePart(value);
}
export function isVersion(value: string): boolean {
  return isImagePart(value);
}
export function isSiteId(value: string): boolean {
  return SITE_RE.test(value) && value !== 'all';
}

export function assertImageName(value: string, field = 'name'): string {
  if (!isImageName(value)) throw new InvalidNameError(field, value, IMAGE_NAME_RULE);
  return value;
}

export function assertVersion(value: string, field = 'version'): string {
  if (!isVersion(value)) throw new InvalidNameError(field, value, IMAGE_NAME_RULE);
  return value;
}

export function assertSiteId(value: string, field = 'site'): string {
  if (!isSiteId(value)) throw new InvalidNameError(field, value, SITE_ID_RULE);
  return value;
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
