import {
  type Catalog,
  ConfigError,
  describeError,
  type Logger,
  type Manifest,
  mapLimit,
  type ReconcileReport,
  type RolloutReader,
  reconcileReportKey,
  type SiteIdentity,
  type TrustedKey,
  verifyManifest,
} from '@ferry/shared';
import type { KV } from '@nats-io/kv';
import cron, { type ScheduledTask } from 'node-cron';
import { heldByRollout } from '../events/event-decision.js';
import { parseMarker } from '../transfer/item-marker.js';
import type { ContentLibrary } from '../vcenter/content-library.js';
import { type ActualItem, countActions, planReconcile, type ReconcileAction } from './reconcile-plan.js';

export type ReconcileTrigger = ReconcileReport['trigger'];

/** Carries out a plan's actions; the agent routes imports through its job runner and queues. */
export interface ReconcileExecutor {
  import(manifest: Manifest, force: boolean): Promise<void>;
  delete(action: Extract<ReconcileAction, { kind: 'delete' }>, manifest: Manifest | undefined): Promise<void>;
}

export interface ReconcilerOptions {
  site: SiteIdentity;
  catalog: Catalog;
  /** `ferry_rollouts`: images whose wave is not released at this site are not imported. */
  rollouts?: RolloutReader;
  trusted: readonly TrustedKey[];
  library: Pick<ContentLibrary, 'listItems' | 'listFiles'>;
  /** The library id, looked up again each pass (a rebuilt vCenter has a new one). */
  libraryId: (refresh: boolean) => Promise<string>;
  itemName: (m: Pick<Manifest, 'name' | 'version'>) => string;
  keepVersions: number;
  prune: boolean;
  executor?: ReconcileExecutor;
  /** Where the report of each pass goes (`<site>._reconcile` in ferry_status). */
  reportKv?: KV;
  isSuspended?: () => boolean;
  log: Logger;
}

const FILE_LIST_CONCURRENCY = 16;

/**
 * Converges the site's Content Library on the catalog, like a pull-based GitOps
 * controller: observe (catalog, library items, their files), plan (pure), act.
 */
export class Reconciler {
  readonly #o: ReconcilerOptions;
  #running: Promise<ReconcileReport> | undefined;
  #task: ScheduledTask | undefined;
  lastReport: ReconcileReport | undefined;

  constructor(options: ReconcilerOptions) {
    this.#o = options;
  }

  /** node-cron on `schedule` (in `timezone`), never overlapping, each run delayed by up to `jitterMs`. */
  schedule(schedule: string, timezone: string, jitterMs: number): void {
    if (!cron.validate(schedule)) {
      throw new ConfigError(
        `reconcile.schedule ${JSON.stringify(schedule)} is not a valid cron expression`,
        undefined,
        'reconcile.schedule',
      );
    }
    this.#task = cron.schedule(schedule, () => this.run('schedule').then(() => undefined), {
      timezone,
      noOverlap: true,
      maxRandomDelay: jitterMs,
      name: `ferry-reconcile-${this.#o.site.site}`,
    });
  }

  stop(): void {
    void this.#task?.stop();
    this.#task = undefined;
  }

  /** Catalog entries and library items as they are now, with files of the items that look in sync. */
  async plan(): Promise<ReconcileAction[]> {
    const { catalog: cat, library, trusted, log } = this.#o;
    const catalog = (
      await cat.list((key, err) => log.warn({ key, err: err.message }, 'unreadable catalog entry'))
    ).filter((m) => {
      try {
        verifyManifest(m, trusted);
        return true;
      } catch (err) {
        log.warn(
          { image: `${m.name}@${m.version}`, err: describeError(err).message },
          'catalog entry not trusted; ignored',
        );
        return false;
      }
    });
    const rollouts = new Map(
      (
        (await this.#o.rollouts?.list((key, err) =>
          log.warn({ key, err: err.message }, 'unreadable rollout record'),
        )) ?? []
      ).map((r) => [`${r.name}@${r.version}`, r]),
    );
    const libraryId = await this.#o.libraryId(true);
    const items: ActualItem[] = (await library.listItems(libraryId)).map((i) => {
      const marker = parseMarker(i.description);
      return marker ? { id: i.id, name: i.name, marker } : { id: i.id, name: i.name };
    });
    const input = {
      site: this.#o.site,
      catalog,
      items,
      keepVersions: this.#o.keepVersions,
      prune: this.#o.prune,
      itemName: this.#o.itemName,
      heldBack: (m: Manifest) => heldByRollout(m, rollouts.get(`${m.name}@${m.version}`), this.#o.site),
    };
    // Files are listed only for items that are otherwise in sync: that is where they decide.
    const keep = new Set(planReconcile(input).flatMap((a) => (a.kind === 'keep' ? [a.itemId] : [])));
    const withFiles = await mapLimit(items, FILE_LIST_CONCURRENCY, async (item) =>
      keep.has(item.id) ? { ...item, files: await library.listFiles(item.id) } : item,
    );
    return planReconcile({ ...input, items: withFiles });
  }

  /** One pass; a pass already under way is joined, not repeated. */
  run(trigger: ReconcileTrigger, options: { dryRun?: boolean } = {}): Promise<ReconcileReport> {
    this.#running ??= this.#pass(trigger, options.dryRun ?? false).finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #pass(trigger: ReconcileTrigger, dryRun: boolean): Promise<ReconcileReport> {
    const { log, site } = this.#o;
    const report: ReconcileReport = {
      site: site.site,
      startedAt: new Date().toISOString(),
      trigger,
      dryRun,
      counts: { import: 0, reimport: 0, delete: 0, keep: 0, ignored: 0 },
      errors: [],
    };
    if (this.#o.isSuspended?.()) {
      report.errors.push('site is suspended: no reconcile actions');
      return this.#finish(report);
    }
    let actions: ReconcileAction[];
    try {
      actions = await this.plan();
    } catch (err) {
      report.errors.push(`cannot plan: ${describeError(err).message}`);
      log.warn({ err: describeError(err).message }, 'reconcile pass could not plan');
      return this.#finish(report);
    }
    const counts = countActions(actions);
    report.counts = {
      import: counts.import,
      reimport: counts.reimport,
      delete: counts.delete,
      keep: counts.keep,
      ignored: counts.ignore,
    };
    if (!dryRun && this.#o.executor) {
      const executor = this.#o.executor;
      const catalogByRef = new Map(
        actions.flatMap((a) =>
          'manifest' in a ? [[`${a.manifest.name}@${a.manifest.version}`, a.manifest] as const] : [],
        ),
      );
      for (const action of actions) {
        try {
          if (action.kind === 'import') await executor.import(action.manifest, false);
          else if (action.kind === 'reimport') await executor.import(action.manifest, true);
          else if (action.kind === 'delete') {
            await executor.delete(action, catalogByRef.get(`${action.marker.name}@${action.marker.version}`));
          }
          if (action.kind !== 'keep' && action.kind !== 'ignore')
            log.info({ action: action.kind, reason: action.reason }, 'reconcile action');
        } catch (err) {
          report.errors.push(`${action.kind}: ${describeError(err).message}`);
        }
      }
    }
    return this.#finish(report);
  }

  async #finish(report: ReconcileReport): Promise<ReconcileReport> {
    report.finishedAt = new Date().toISOString();
    this.lastReport = report;
    if (this.#o.reportKv && !report.dryRun) {
      await this.#o.reportKv.put(reconcileReportKey(report.site), JSON.stringify(report)).catch((err: unknown) => {
        this.#o.log.warn({ err: describeError(err).message }, 'reconcile report not written');
      });
    }
    this.#o.log.info(
      { trigger: report.trigger, counts: report.counts, errors: report.errors.length },
      'reconcile pass done',
    );
    return report;
  }
}
