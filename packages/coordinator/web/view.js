// ferry status page: the page's state and the small helpers every part uses (DOM, formatting,
// targeting, filters). Plain modern JavaScript, served as is (see app.js).

import { formatAge } from './format-age.js';
import { selectorMatches } from './targets.js';

export const TRANSFERRING = new Set(['downloading', 'verifying', 'importing']);
export const SHORT = { downloading: 'download', verifying: 'verify', importing: 'import' };

export const $ = (id) => document.getElementById(id);

export function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

export const view = {
  sites: [],
  rows: new Map(),
  order: [],
  /** Server clock minus this browser's clock, ms (ages are computed in server time). */
  offset: 0,
  republish: false,
  selected: null,
  columns: [],
  columnsSignature: '',
  trs: new Map(),
  ready: false,
};

// ---------------------------------------------------------------------------------- formatting

export function fmtBytes(n) {
  if (n === null || n === undefined) return '?';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export const fmtTime = (iso) => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '–');
export const serverNow = () => Date.now() + view.offset;
export const ago = (iso) => (iso ? `${formatAge(serverNow() - Date.parse(iso))} ago` : 'never');
export const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** An element whose text is "<prefix><age> ago", refreshed every second. */
export function ageEl(tag, className, prefix, iso) {
  const e = el(tag, className, prefix + ago(iso));
  if (iso) {
    e.dataset.since = iso;
    e.dataset.prefix = prefix;
  }
  return e;
}

export function refreshAges() {
  for (const e of document.querySelectorAll('[data-since]')) {
    e.textContent = e.dataset.prefix + ago(e.dataset.since);
  }
}

// ------------------------------------------------------------------------------------ targeting

export function targets(row, site) {
  if (!row.inCatalog || site.zone === null) return false;
  return row.targets.some((t) => selectorMatches(t, site));
}

// ------------------------------------------------------------------------------------- filtering

export const terms = (id) => $(id).value.trim().toLowerCase().split(/\s+/).filter(Boolean);

export function visibleSites() {
  const want = terms('filter-site');
  const zone = (s) => s.zone ?? '\uffff';
  return view.sites
    .filter(
      (s) =>
        want.length === 0 ||
        want.some((t) => s.site.toLowerCase().includes(t) || (s.zone ?? '').toLowerCase().includes(t)),
    )
    .sort((a, b) => zone(a).localeCompare(zone(b)) || a.site.localeCompare(b.site));
}

export function rowFilter() {
  const want = terms('filter-image');
  return (row) => {
    const ref = `${row.name}@${row.version}`.toLowerCase();
    return want.every((t) => ref.includes(t));
  };
}
