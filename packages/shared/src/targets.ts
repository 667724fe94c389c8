export interface SiteIdentity {
  site: string;
  zone: string;
  labels: Readonly<Record<string, string>>;
}

/** Whether one target selector (`*`, site id, `zone:<z>`, `label:<k>=<v>`) selects the site. */
export function selectorMatches(selector: string, site: SiteIdentity): boolean {
  if (selector === '*') return true;
  if (selector.startsWith('zone:')) return selector.slice(5) === site.zone;
  if (selector.startsWith('label:')) {
    const body = selector.slice(6);
    const eq = body.indexOf('=');
    if (eq <= 0) return false;
    const key = body.slice(0, eq);
    return Object.hasOwn(site.labels, key) && site.labels[key] === body.slice(eq + 1);
  }
  return selector === site.site;
}

/** A manifest targets a site when any of its selectors matches. */
export function targetsSite(targets: readonly string[], site: SiteIdentity): boolean {
  return targets.some((t) => selectorMatches(t, site));
}
