/** Reads what `ferry status` shows from NATS: catalog, `ferry_status` and `ferry_sites`. */
import {
  type Catalog,
  type Heartbeat,
  type Logger,
  listKeys,
  MessagingError,
  parseHeartbeat,
  parseReconcileReport,
  parseSiteControl,
  parseStatusKey,
  parseStatusRecord,
  type ReconcileReport,
  RolloutReader,
  type RolloutRecord,
  type SiteControl,
  type StatusRecord,
  type Topology,
} from '@ferry/shared';
import type { StatusInput } from './status-matrix.js';

type Kv = Topology['status'];

/** Every key's JSON value in a bucket (deleted and unparsable entries skipped). */
async function readAll(kv: Kv, what: string, logger?: Logger): Promise<Array<{ key: string; value: unknown }>> {
  const keys = await listKeys(kv, what);
  const out: Array<{ key: string; value: unknown }> = [];
  const batch = 64;
  for (let i = 0; i < keys.length; i += batch) {
    await Promise.all(
      keys.slice(i, i + batch).map(async (key) => {
        const entry = await kv.get(key).catch((err: unknown) => {
          throw new MessagingError(`cannot read ${what} ${key}: ${(err as Error).message}`, { cause: err });
        });
        if (entry?.operation !== 'PUT' || entry.length === 0) return;
        try {
          out.push({ key, value: entry.json() });
        } catch {
          logger?.warn({ key, bucket: what }, 'entry is not JSON; skipped');
        }
      }),
    );
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

export async function readStatusInput(deps: {
  topology: Topology;
  catalog: Catalog;
  logger?: Logger;
}): Promise<StatusInput> {
  const log = deps.logger;
  const rolloutKv = deps.topology.rollouts;
  const [manifests, statusEntries, siteEntries, rollouts] = await Promise.all([
    deps.catalog.list((key, err) => log?.warn({ key, err: err.message }, 'invalid catalog entry skipped')),
    readAll(deps.topology.status, 'ferry_status', log),
    readAll(deps.topology.sites, 'ferry_sites', log),
    rolloutKv
      ? new RolloutReader(rolloutKv).list((key, err) => log?.warn({ key, err: err.message }, 'invalid rollout skipped'))
      : Promise.resolve([] as RolloutRecord[]),
  ]);
  const records: StatusRecord[] = [];
  const reports: ReconcileReport[] = [];
  const controls: SiteControl[] = [];
  for (const { key, value } of statusEntries) {
    try {
      if (key.endsWith('._reconcile')) reports.push(parseReconcileReport(value));
      else if (key.endsWith('._control')) {
        const c = parseSiteControl(value);
        if (c) controls.push(c);
      } else if (parseStatusKey(key)) records.push(parseStatusRecord(value));
    } catch (err) {
      log?.warn({ key, err: (err as Error).message }, 'invalid status entry skipped');
    }
  }
  const heartbeats: Heartbeat[] = [];
  for (const { key, value } of siteEntries) {
    try {
      heartbeats.push(parseHeartbeat(value));
    } catch (err) {
      log?.warn({ key, err: (err as Error).message }, 'invalid heartbeat skipped');
    }
  }
  return { manifests, records, heartbeats, reports, controls, rollouts };
}
