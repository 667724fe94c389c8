/**
 * Compact age of a duration: 12s, 5m, 3h, 4d. One implementation for the CLI tables and the web
 * page: the coordinator serves this module's compiled file to the browser as is, so it must stay
 * free of imports and Node APIs.
 */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

/** Age of an ISO time at `nowMs`: `-` when there is none, `?` when it is not a time. */
export function formatAgeAt(iso: string | null | undefined, nowMs: number): string {
  if (!iso) return '-';
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return '?';
  return formatAge(nowMs - t);
}
