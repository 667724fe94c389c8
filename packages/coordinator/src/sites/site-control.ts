/**
 * Suspending a site: the coordinator writes the operator's wish, the agent watches it.
 *
 * Key `<site>._control` in the `ferry_status` bucket (beside `<site>._reconcile`; `ferry_sites`
 * holds only the agents' own heartbeats, which they overwrite every 10 s). Value:
 * `{ "schema": "ferry/site-control/v1", "site": "dc1", "suspended": true, "at": ISO, "by": "user@host", "reason"?: "…" }`.
 * `ferry resume` writes the same record with `suspended: false` (not a delete), so a watcher sees
 * the change. A suspended agent keeps its consumers and heartbeats but starts no new downloads or
 * imports; it reports `suspended: true` in its heartbeat once it has obeyed.
 */
import { hostname, userInfo } from 'node:os';
import {
  assertSiteId,
  MessagingError,
  SITE_CONTROL_SCHEMA,
  type SiteControl,
  siteControlKey,
  type Topology,
} from '@ferry/shared';

function operator(): string {
  let user = process.env.USER ?? 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // No passwd entry (containers): keep $USER.
  }
  return `${user}@${hostname()}`;
}

/** `ferry suspend --site S` / `ferry resume --site S`. */
export async function setSiteSuspended(
  status: Topology['status'],
  site: string,
  suspended: boolean,
  reason?: string,
): Promise<SiteControl> {
  const control: SiteControl = {
    schema: SITE_CONTROL_SCHEMA,
    site: assertSiteId(site),
    suspended,
    at: new Date().toISOString(),
    by: operator(),
    ...(reason ? { reason } : {}),
  };
  try {
    await status.put(siteControlKey(site), JSON.stringify(control));
  } catch (err) {
    throw new MessagingError(`cannot write ${siteControlKey(site)}: ${(err as Error).message}`, { cause: err });
  }
  return control;
}
