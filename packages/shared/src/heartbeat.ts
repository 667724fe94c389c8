import { z } from 'zod';
import { parserOf } from './schema-error.js';

/** What an agent writes to `ferry_sites.<site>` every 10 s. */
export const heartbeatSchema = z.object({
  site: z.string(),
  /** The agent serving this site (a zone agent serves several); absent from agents before zones. */
  agent: z.string().optional(),
  zone: z.string(),
  labels: z.record(z.string(), z.string()).default({}),
  agentVersion: z.string(),
  lastSeen: z.string(),
  startedAt: z.string().optional(),
  queueDepth: z.number().int().nonnegative().default(0),
  activeDownloads: z.number().int().nonnegative().default(0),
  activeImports: z.number().int().nonnegative().default(0),
  cacheFreeBytes: z.number().nonnegative().optional(),
  suspended: z.boolean().default(false),
  /**
   * The agent's own readiness (what its /readyz answers): false when NATS, the vCenter login or
   * the cache fails. Absent in heartbeats of older agents, which said nothing about it.
   */
  ready: z.boolean().optional(),
  /** Why not ready: one `check: detail` line per failing check (empty when ready). */
  notReady: z.array(z.string()).optional(),
});

export type Heartbeat = z.infer<typeof heartbeatSchema>;

/** A site whose heartbeat is older than this is shown as stale. */
export const HEARTBEAT_STALE_MS = 60_000;
export const HEARTBEAT_INTERVAL_MS = 10_000;

export const parseHeartbeat = parserOf<Heartbeat>(heartbeatSchema, 'heartbeat');

/** A site's last reconcile pass, stored at `<site>._reconcile` in `ferry_status`. */
export const reconcileReportSchema = z.object({
  site: z.string(),
  startedAt: z.string(),
  finishedAt: z.string().optional(),
  trigger: z.enum(['schedule', 'event', 'start', 'manual']),
  dryRun: z.boolean().default(false),
  counts: z.object({
    import: z.number().int().default(0),
    reimport: z.number().int().default(0),
    delete: z.number().int().default(0),
    keep: z.number().int().default(0),
    ignored: z.number().int().default(0),
  }),
  errors: z.array(z.string()).default([]),
});

export type ReconcileReport = z.infer<typeof reconcileReportSchema>;

export const parseReconcileReport = parserOf<ReconcileReport>(reconcileReportSchema, 'reconcile report');
