/**
 * The image × site matrix behind `ferry status`, `ferry sites`, `--json` and the HTTP API.
 * Pure: catalog manifests, status records, heartbeats, reconcile reports and site controls in,
 * rows out. The returned object IS the JSON shape documented in the README (ferry status --json).
 */
import {
  type DeployCheckRecord,
  HEARTBEAT_STALE_MS,
  type Heartbeat,
  type JobState,
  type Manifest,
  type ReconcileReport,
  type RolloutRecord,
  type RolloutView,
  type SiteControl,
  type StatusRecord,
  targetsSite,
  viewRollout,
  waveOfSite,
} from '@ferry/shared';

export const STATUS_JSON_SCHEMA = 'ferry/status/v1';

export interface StatusInput {
  manifests: readonly Manifest[];
  records: ReadonlyArray<StatusRecord>;
  /** `ferry_rollouts` records (absent: no image has a rollout). */
  rollouts?: readonly RolloutRecord[];
  heartbeats: readonly Heartbeat[];
  reports: readonly ReconcileReport[];
  controls: readonly SiteControl[];
}

export interface StatusFilter {
  name?: string;
  version?: string;
  /** Only these sites (any of them); unset or empty: all. */
  sites?: readonly string[];
}

/** Who suspended a site, when and why (the operator's `ferry suspend` record). */
export interface Suspension {
  reason: string | null;
  by: string;
  at: string;
}

export interface LastReconcile {
  startedAt: string;
  finishedAt: string | null;
  trigger: ReconcileReport['trigger'];
  dryRun: boolean;
  counts: ReconcileReport['counts'];
  errors: string[];
}

export interface SiteRow {
  site: string;
  zone: string | null;
  labels: Record<string, string>;
  /** No heartbeat for HEARTBEAT_STALE_MS (or never). */
  stale: boolean;
  /** The agent reports it is suspended. */
  suspended: boolean;
  /** An operator asked for suspension (`ferry suspend`); the agent may not have obeyed yet. */
  suspendRequested: boolean;
  /** The latest `ferry suspend` request while it stands (null once resumed or never suspended). */
  suspension: Suspension | null;
  /** The agent's readiness from its heartbeat (vCenter login, NATS, cache); null: not reported. */
  ready: boolean | null;
  /** Why the agent is not ready: `check: detail` lines (empty when ready or unknown). */
  notReady: string[];
  lastSeen: string | null;
  agentVersion: string | null;
  queueDepth: number | null;
  activeDownloads: number | null;
  activeImports: number | null;
  lastReconcile: LastReconcile | null;
}

export interface StatusCell {
  state: JobState;
  bytesDone: number;
  bytesTotal: number;
  /** While `importing` overlaps the download: bytes in the agent's cache (of the image's size); else null. */
  bytesDownloaded: number | null;
  /** 0-100 (floor) when bytesTotal is known, else null. */
  percent: number | null;
  error: { code: string; message: string } | null;
  updatedAt: string;
  attempts: number;
  retryAt: string | null;
  /** The record is for other bytes than the catalog's current manifest (replaced since). */
  outdated: boolean;
  /** The last event the agent refused for this image while keeping what it had (bad signature, rollback). */
  refused: { code: string; message: string; at: string } | null;
  /** The rollout wave this site belongs to, when the image has a rollout. */
  wave: string | null;
  /** The deploy check result, when the agent ran one. */
  check: DeployCheckRecord | null;
}

export interface ImageRow {
  name: string;
  version: string;
  /** null when the image is only known from status records (not in the catalog). */
  sha256: string | null;
  size: number | null;
  publishedAt: string | null;
  retired: boolean;
  retiredAt: string | null;
  inCatalog: boolean;
  targets: string[];
  /** Per site id that has a status record for this image. */
  sites: Record<string, StatusCell>;
  /** The image's rollout in waves (state, wave n of m, soak, halt reason, approval), or null. */
  rollout: RolloutView | null;
}

export interface StatusMatrix {
  schema: typeof STATUS_JSON_SCHEMA;
  generatedAt: string;
  sites: SiteRow[];
  images: ImageRow[];
}

const TRANSFERRING: readonly JobState[] = ['downloading', 'verifying', 'importing'];
export function isTransferring(state: JobState): boolean {
  return TRANSFERRING.includes(state);
}

function toCell(record: StatusRecord, manifest: Manifest | undefined, wave: string | null): StatusCell {
  return {
    state: record.state,
    bytesDone: record.bytesDone,
    bytesTotal: record.bytesTotal,
    bytesDownloaded: record.state === 'importing' ? (record.bytesDownloaded ?? null) : null,
    percent: record.bytesTotal > 0 ? Math.min(100, Math.floor((record.bytesDone / record.bytesTotal) * 100)) : null,
    error: record.state === 'failed' && record.error ? record.error : null,
    updatedAt: record.updatedAt,
    attempts: record.attempts,
    retryAt: record.retryAt ?? null,
    outdated: manifest !== undefined && manifest.sha256 !== record.sha256,
    refused: record.lastRefusal
      ? { code: record.lastRefusal.code, message: record.lastRefusal.message, at: record.lastRefusal.at }
      : null,
    wave,
    check: record.check ?? null,
  };
}

function toLastReconcile(r: ReconcileReport): LastReconcile {
  return {
    startedAt: r.startedAt,
    finishedAt: r.finishedAt ?? null,
    trigger: r.trigger,
    dryRun: r.dryRun,
    counts: r.counts,
    errors: r.errors,
  };
}

const ms = (iso: string | null | undefined): number => {
  const t = iso ? Date.parse(iso) : Number.NaN;
  return Number.isNaN(t) ? 0 : t;
};

/** Builds the matrix; `now` decides staleness (a parameter, so tests and watch redraws agree). */
export function buildStatusMatrix(input: StatusInput, now: Date, filter: StatusFilter = {}): StatusMatrix {
  const heartbeats = new Map(input.heartbeats.map((h) => [h.site, h]));
  const reports = new Map(input.reports.map((r) => [r.site, r]));
  const controls = new Map(input.controls.map((c) => [c.site, c]));

  const siteIds = new Set<string>([
    ...heartbeats.keys(),
    ...input.records.map((r) => r.site),
    ...reports.keys(),
    ...controls.keys(),
  ]);
  const sites: SiteRow[] = [...siteIds]
    .filter((s) => !filter.sites?.length || filter.sites.includes(s))
    .sort()
    .map((site) => {
      const hb = heartbeats.get(site);
      const report = reports.get(site);
      const control = controls.get(site);
      return {
        site,
        zone: hb?.zone ?? null,
        labels: hb?.labels ?? {},
        stale: !hb || now.getTime() - ms(hb.lastSeen) > HEARTBEAT_STALE_MS,
        suspended: hb?.suspended ?? false,
        suspendRequested: control?.suspended ?? false,
        suspension: control?.suspended ? { reason: control.reason ?? null, by: control.by, at: control.at } : null,
        ready: hb?.ready ?? null,
        notReady: hb?.notReady ?? [],
        lastSeen: hb?.lastSeen ?? null,
        agentVersion: hb?.agentVersion ?? null,
        queueDepth: hb?.queueDepth ?? null,
        activeDownloads: hb?.activeDownloads ?? null,
        activeImports: hb?.activeImports ?? null,
        lastReconcile: report ? toLastReconcile(report) : null,
      };
    });
  const shownSites = new Set(sites.map((s) => s.site));

  const wanted = (name: string, version: string) =>
    (filter.name === undefined || filter.name === name) && (filter.version === undefined || filter.version === version);
  const key = (name: string, version: string) => `${name}\u0000${version}`;
  const rows = new Map<string, ImageRow>();
  for (const m of input.manifests) {
    if (!wanted(m.name, m.version)) continue;
    rows.set(key(m.name, m.version), {
      name: m.name,
      version: m.version,
      sha256: m.sha256,
      size: m.size,
      publishedAt: m.publishedAt,
      retired: m.retiredAt !== undefined,
      retiredAt: m.retiredAt ?? null,
      inCatalog: true,
      targets: [...m.targets],
      sites: {},
      rollout: null,
    });
  }
  const manifests = new Map(input.manifests.map((m) => [key(m.name, m.version), m]));
  // A rollout of bytes the catalog no longer holds (replaced without one) is not shown.
  const rollouts = new Map(
    (input.rollouts ?? [])
      .filter((r) => manifests.get(key(r.name, r.version))?.sha256 === r.sha256)
      .map((r) => [key(r.name, r.version), r]),
  );
  for (const r of input.records) {
    if (!wanted(r.name, r.version) || !shownSites.has(r.site)) continue;
    let row = rows.get(key(r.name, r.version));
    if (!row) {
      row = {
        name: r.name,
        version: r.version,
        sha256: null,
        size: null,
        publishedAt: null,
        retired: false,
        retiredAt: null,
        inCatalog: false,
        targets: [],
        sites: {},
        rollout: null,
      };
      rows.set(key(r.name, r.version), row);
    }
    const rollout = rollouts.get(key(r.name, r.version));
    const hb = heartbeats.get(r.site);
    const wave = rollout && hb ? rollout.waves[waveOfSite(rollout.waves, hb)]!.name : null;
    row.sites[r.site] = toCell(r, manifests.get(key(r.name, r.version)), wave);
  }
  for (const [k, r] of rollouts) {
    const row = rows.get(k);
    if (row) row.rollout = viewRollout(r, now);
  }
  // Grouped by name (alphabetically), newest publishedAt first within a name.
  const images = [...rows.values()].sort(
    (a, b) =>
      a.name.localeCompare(b.name) || ms(b.publishedAt) - ms(a.publishedAt) || b.version.localeCompare(a.version),
  );
  return { schema: STATUS_JSON_SCHEMA, generatedAt: now.toISOString(), sites, images };
}

/**
 * Why a `ferry status` filter shows nothing, or null when every name in it is known: an image name
 * or version that no catalog entry or status record has, or a site no agent has reported as.
 */
export function unknownFilterReason(input: StatusInput, filter: StatusFilter): string | null {
  if (filter.name !== undefined) {
    const refs = [...input.manifests, ...input.records].filter((x) => x.name === filter.name);
    if (refs.length === 0) return `no image named ${filter.name} (see: ferry status)`;
    if (filter.version !== undefined && !refs.some((x) => x.version === filter.version)) {
      const versions = [...new Set(refs.map((x) => x.version))].sort().join(', ');
      return `no version ${filter.version} of ${filter.name} (known: ${versions})`;
    }
  }
  const known = new Set([
    ...input.heartbeats.map((h) => h.site),
    ...input.records.map((r) => r.site),
    ...input.reports.map((r) => r.site),
    ...input.controls.map((c) => c.site),
  ]);
  const unknown = (filter.sites ?? []).filter((s) => !known.has(s));
  if (unknown.length > 0) {
    const list = known.size > 0 ? [...known].sort().join(', ') : 'none has reported yet';
    return `unknown site ${unknown.join(', ')} (sites: ${list}; see: ferry sites)`;
  }
  return null;
}

/** Whether an image row's manifest targets a site (needs the site's heartbeat for zone and labels). */
export function rowTargetsSite(row: ImageRow, site: SiteRow): boolean {
  if (!row.inCatalog || site.zone === null) return false;
  return targetsSite(row.targets, { site: site.site, zone: site.zone, labels: site.labels });
}
