import { z } from 'zod';
import { assertSiteId } from './names.js';

/**
 * Suspending a site: `ferry suspend` writes the operator's wish to `<site>._control` in
 * `ferry_status`; the agent watches the key. `ferry resume` writes `suspended: false`
 * (not a delete) so the watcher sees the change.
 */
export const SITE_CONTROL_SCHEMA = 'ferry/site-control/v1';

export const siteControlSchema = z.object({
  schema: z.literal(SITE_CONTROL_SCHEMA),
  site: z.string(),
  suspended: z.boolean(),
  at: z.string(),
  by: z.string(),
  reason: z.string().optional(),
});

export type SiteControl = z.infer<typeof siteControlSchema>;

/** `<site>._control` (parseStatusKey does not take it for a status record: it has no third part). */
export function siteControlKey(site: string): string {
  return `${assertSiteId(site)}._control`;
}

export function parseSiteControl(input: unknown): SiteControl | undefined {
  const r = siteControlSchema.safeParse(input);
  return r.success ? r.data : undefined;
}
