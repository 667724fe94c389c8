import { assertImageName, assertSiteId, assertVersion } from './names.js';

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

export function catalogKey(name: string, version: string): string {
  return `${assertImageName(name)}.${assertVersion(version)}`;
}

/** Splits a catalog key: the name has no dots, so the first dot separates it from the version. */
export function parseCatalogKey(key: string): { name: string; version: string } | undefined {
  const dot = key.indexOf('.');
  if (dot <= 0) return undefined;
  return { name: key.slice(0, dot), version: key.slice(dot + 1) };
}

export function statusKey(site: string, name: string, version: string): string {
  return `${assertSiteId(site)}.${assertImageName(name)}.${assertVersion(version)}`;
}

/** Key of a site's last reconcile report in the status bucket (`_` cannot start an image name's key part otherwise used). */
export function reconcileReportKey(site: string): string {
  return `${assertSiteId(site)}._reconcile`;
}

export function parseStatusKey(key: string): { site: string; name: string; version: string } | undefined {
  const first = key.indexOf('.');
  if (first <= 0) return undefined;
  const rest = key.slice(first + 1);
  const second = rest.indexOf('.');
  if (second <= 0) return undefined;
  return { site: key.slice(0, first), name: rest.slice(0, second), version: rest.slice(second + 1) };
}

export function siteKey(site: string): string {
  return assertSiteId(site);
}

/** Durable consumer names derived from the site id (one per filter subject). */
export function consumerNames(site: string): [string, string] {
  assertSiteId(site);
  return [`ferry-agent-${site}-all`, `ferry-agent-${site}-site`];
}
