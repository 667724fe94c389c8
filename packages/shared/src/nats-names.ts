import { assertImageName, assertSiteId, assertVersion, isImageName, isSiteId } from './names.js';

export const EVENTS_STREAM = 'FERRY_EVENTS';
export const EVENTS_SUBJECT_PREFIX = 'ferry.events';
export const CATALOG_BUCKET = 'ferry_catalog';
export const STATUS_BUCKET = 'ferry_status';
export const SITES_BUCKET = 'ferry_sites';

export const EVENT_KINDS = ['published', 'republish', 'retired', 'reconcile'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

/** `all` or a site id. */
export type EventTarget = string;

export function eventSubject(target: EventTarget, kind: EventKind): string {
  if (target !== 'all') assertSiteId(target);
  return `${EVENTS_SUBJECT_PREFIX}.${target}.${kind}`;
}

/** Filter subjects one site's consumers use (one each: nats-server 2.9 allows one filter per consumer). */
export function siteFilterSubjects(site: string): [string, string] {
  assertSiteId(site);
  return [`${EVENTS_SUBJECT_PREFIX}.all.>`, `${EVENTS_SUBJECT_PREFIX}.${site}.>`];
}

/**
 * NATS key tokens are separated by `.` and may not hold `+`, so each image name or version part
 * of a KV key is spelled with those two escaped (`.` → `=2E`, `+` → `=2B`). `=` never appears in a
 * name, so the spelling reverses exactly; a part never contains a raw `.`, so `<site>.<name>.>`
 * watches and the token count of every key still hold.
 */
const KEY_ESCAPES: Record<string, string> = { '.': '=2E', '+': '=2B' };
const KEY_UNESCAPES: Record<string, string> = { '=2E': '.', '=2B': '+' };

export function encodeKeyPart(part: string): string {
  return part.replace(/[.+]/g, (c) => KEY_ESCAPES[c] as string);
}

/** The plain name or version of an encoded key part, or undefined when it is not one ferry wrote. */
export function decodeKeyPart(token: string): string | undefined {
  if (token.includes('.')) return undefined;
  const plain = token.replace(/=2E|=2B/g, (e) => KEY_UNESCAPES[e] as string);
  return plain.includes('=') || !isImageName(plain) ? undefined : plain;
}

export function catalogKey(name: string, version: string): string {
  return `${encodeKeyPart(assertImageName(name))}.${encodeKeyPart(assertVersion(version))}`;
}

/** `<name>.<version>` (both encoded) → the plain parts; anything else → undefined. */
export function parseCatalogKey(key: string): { name: string; version: string } | undefined {
  const tokens = key.split('.');
  if (tokens.length !== 2) return undefined;
  const name = decodeKeyPart(tokens[0] as string);
  const version = decodeKeyPart(tokens[1] as string);
  return name !== undefined && version !== undefined ? { name, version } : undefined;
}

export function statusKey(site: string, name: string, version: string): string {
  return `${assertSiteId(site)}.${encodeKeyPart(assertImageName(name))}.${encodeKeyPart(assertVersion(version))}`;
}

/** Key of a site's last reconcile report in the status bucket (an image name never starts with `_`). */
export function reconcileReportKey(site: string): string {
  return `${assertSiteId(site)}._reconcile`;
}

/** `<site>.<name>.<version>` (name and version encoded) → the plain parts; `<site>._reconcile` etc. → undefined. */
export function parseStatusKey(key: string): { site: string; name: string; version: string } | undefined {
  const tokens = key.split('.');
  if (tokens.length !== 3) return undefined;
  const site = tokens[0] as string;
  const name = decodeKeyPart(tokens[1] as string);
  const version = decodeKeyPart(tokens[2] as string);
  if (!isSiteId(site) || name === undefined || version === undefined) return undefined;
  return { site, name, version };
}

export function siteKey(site: string): string {
  return assertSiteId(site);
}

/** Durable consumer names derived from the site id (one per filter subject). */
export function consumerNames(site: string): [string, string] {
  assertSiteId(site);
  return [`ferry-agent-${site}-all`, `ferry-agent-${site}-site`];
}
