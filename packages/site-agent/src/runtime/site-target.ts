import {
  type Catalog,
  describeError,
  type Heartbeat,
  imageRef,
  type Logger,
  type Manifest,
  parseSiteControl,
  type RolloutReader,
  siteControlKey,
  siteKey,
  type Topology,
  verifyManifest,
} from '@ferry/shared';
import type { JsMsg } from '@nats-io/jetstream';
import { KvWatchInclude } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { ControlWatch } from '../events/control-watch.js';
import { EventConsumer, type MessageOutcome } from '../events/event-consumer.js';
import { decideEvent, decodeEvent, type EventDecision } from '../events/event-decision.js';
import { JobRunner } from '../jobs/job-runner.js';
import { StatusWriter } from '../jobs/status-writer.js';
import { Reconciler } from '../reconcile/reconciler.js';
import type { AgentMetrics } from './agent-metrics.js';
import { type AgentRuntime, type TargetRuntime, targetLogger } from './agent-runtime.js';
import { AGENT_VERSION } from './version.js';

/** What every target of a zone agent shares. */
export interface ZoneContext {
  rt: AgentRuntime;
  nc: NatsConnection;
  topology: Topology;
  catalog: Catalog;
  /** Rollout states (absent on a hub without the rollouts bucket). */
  rollouts: RolloutReader | undefined;
  metrics: AgentMetrics;
  startedAt: string;
  /** Failing readiness checks that concern a site (zone-wide ones and its vCenter's). */
  notReady(site: string): Promise<string[]>;
}

/**
 * One site of a zone agent (one Content Library): its status records, job runner, event
 * consumers, reconciler, suspend/resume and heartbeat. The download cache, the queues and the
 * NATS connection belong to the zone.
 */
export class SiteTarget {
  readonly site: string;
  readonly status: StatusWriter;
  readonly runner: JobRunner;
  readonly reconciler: Reconciler;
  readonly #z: ZoneContext;
  readonly #t: TargetRuntime;
  readonly #log: Logger;
  #consumer: EventConsumer | undefined;
  #controlWatch: ControlWatch | undefined;
  #suspended = false;

  constructor(z: ZoneContext, t: TargetRuntime) {
    this.#z = z;
    this.#t = t;
    this.site = t.config.site;
    const { rt } = z;
    const log = targetLogger(rt.log, rt.config, this.site);
    this.#log = log;
    this.status = new StatusWriter(z.topology.status, this.site, AGENT_VERSION, log.child({ component: 'status' }));
    this.runner = new JobRunner({
      importer: t.jobImporter,
      library: t.library,
      ...(t.deployCheck ? { checker: t.deployCheck } : {}),
      status: this.status,
      metrics: z.metrics,
      log,
      site: this.site,
      retry: rt.config.jobs,
      // The cached file stays until every target's job for it has ended (retry waits included).
      hold: (m) => rt.cache.hold(m.sha256),
      loadManifest: (name, version) => this.#loadManifest(name, version),
      onSettled: () => void this.beat(),
    });
    this.reconciler = new Reconciler({
      site: t.identity,
      catalog: z.catalog,
      rollouts: z.rollouts,
      trusted: rt.trusted,
      library: t.library,
      libraryId: (refresh) => t.libraryId(refresh),
      itemName: (m) => t.importer.itemName(m),
      keepVersions: rt.config.retention.keepVersions,
      prune: rt.config.reconcile.prune,
      reportKv: z.topology.status,
      isSuspended: () => this.#suspended,
      log: log.child({ component: 'reconcile' }),
      executor: {
        import: async (manifest, force) => {
          // A job already in flight for the image is the import under way: never a second one.
          const decision = await this.runner.request(manifest, { force, source: 'reconcile' });
          if (decision.action === 'refuse')
            throw new Error(`${imageRef(manifest.name, manifest.version)} ${decision.reason}`);
        },
        delete: async (action, manifest) => {
          await t.library.deleteItem(action.itemId);
          await this.status.update(action.marker.name, action.marker.version, {
            state: 'retired',
            sha256: manifest?.sha256 ?? action.marker.sha256,
            libraryItemId: undefined,
          });
        },
      },
    });
  }

  get suspended(): boolean {
    return this.#suspended;
  }

  get target(): TargetRuntime {
    return this.#t;
  }

  /** Suspend state first (a suspended site resumes no job), then its jobs, then its events. */
  async start(): Promise<void> {
    this.runner.setSuspended(this.#suspended);
    await this.#watchControl();
    // Check VMs a crash left behind go first; resumed checks wait for the sweep (never awaited here:
    // a vCenter that is away must not hold up the agent's start).
    void this.#t.deployCheck?.cleanupAtStart();
    const resumed = await this.runner.resume(await this.status.load());
    if (resumed) this.#log.info({ resumed }, 'resumed unfinished jobs');
    this.#consumer = new EventConsumer({
      nc: this.#z.nc,
      site: this.site,
      log: this.#log.child({ component: 'events' }),
      handle: (msg) => this.#handle(msg),
    });
    await this.#consumer.start();
    const { reconcile } = this.#z.rt.config;
    if (reconcile.enabled) {
      this.reconciler.schedule(reconcile.schedule, reconcile.timezone, reconcile.jitterMs);
      void this.reconciler.run('start');
    }
  }

  /** Stops taking work (events, reconcile, control); the caller drains the runner. */
  async stopIntake(): Promise<void> {
    this.reconciler.stop();
    await this.#controlWatch?.stop();
    await this.#consumer?.stop();
  }

  setSuspended(suspended: boolean): void {
    if (suspended === this.#suspended) return;
    this.#suspended = suspended;
    this.#log.info({ suspended }, suspended ? 'site suspended: no new jobs' : 'site resumed');
    void this.beat();
    this.runner.setSuspended(suspended);
  }

  /** This site's heartbeat in ferry_sites, naming the agent that serves it. */
  async beat(): Promise<void> {
    const { rt, topology, startedAt } = this.#z;
    const notReady = await this.#z.notReady(this.site);
    const hb: Heartbeat = {
      site: this.site,
      agent: rt.config.agent,
      zone: rt.config.zone,
      labels: this.#t.identity.labels,
      agentVersion: AGENT_VERSION,
      lastSeen: new Date().toISOString(),
      startedAt,
      queueDepth: rt.queues.depth,
      activeDownloads: rt.queues.active.downloads,
      activeImports: rt.queues.active.imports,
      cacheFreeBytes: await rt.cache.freeBytes(),
      suspended: this.#suspended,
      ready: notReady.length === 0,
      notReady,
    };
    try {
      await topology.sites.put(siteKey(this.site), JSON.stringify(hb));
    } catch (err) {
      this.#log.debug({ err: describeError(err).message }, 'heartbeat not written');
    }
  }

  async #handle(msg: JsMsg): Promise<MessageOutcome> {
    const decoded = decodeEvent(msg.data);
    if ('action' in decoded) return this.#reject(decoded, msg.seq);
    const { event } = decoded;
    this.#z.metrics.eventsReceived.inc({ kind: event.kind });
    const current =
      event.kind === 'reconcile' ? undefined : this.status.current(event.manifest.name, event.manifest.version);
    // A rollout that cannot be read fails the message (redelivered later): never import past a wave by accident.
    const rollout =
      event.kind === 'published' || event.kind === 'republish'
        ? await this.#z.rollouts?.get(event.manifest.name, event.manifest.version)
        : undefined;
    const decision = decideEvent(event, {
      site: this.#t.identity,
      trusted: this.#z.rt.trusted,
      current,
      ...(rollout ? { rollout } : {}),
    });
    switch (decision.action) {
      case 'reject':
        return this.#reject(decision, msg.seq);
      case 'ignore':
        this.#log.debug(
          {
            seq: msg.seq,
            reason: decision.reason,
            image: decision.manifest && imageRef(decision.manifest.name, decision.manifest.version),
          },
          'event ignored',
        );
        return 'ack';
      case 'reconcile':
        void this.reconciler.run('event');
        return 'ack';
      case 'retire':
        await this.runner.retire(decision.manifest, this.#z.rt.config.reconcile.prune);
        return 'ack';
      case 'import':
        // Recorded durably, then acked; the import runs in the background (imports take hours).
        await this.runner.request(decision.manifest, { force: decision.force, source: 'event' });
        return 'ack';
    }
  }

  async #reject(decision: Extract<EventDecision, { action: 'reject' }>, seq: number): Promise<MessageOutcome> {
    this.#z.metrics.eventsRejected.inc({ code: decision.code });
    this.#log.warn({ seq, code: decision.code, reason: decision.reason }, 'event rejected');
    const image = decision.image;
    if (image) {
      const current = this.status.current(image.name, image.version);
      const refusal = {
        code: decision.code,
        message: decision.reason,
        at: new Date().toISOString(),
        sha256: image.sha256,
      };
      if (current && current.state !== 'failed' && current.sha256 !== image.sha256) {
        // Keep what the site has; show the refusal next to it.
        await this.status.update(image.name, image.version, { lastRefusal: refusal });
      } else {
        await this.status.update(image.name, image.version, {
          state: 'failed',
          sha256: image.sha256 ?? current?.sha256 ?? '',
          error: { code: decision.code, message: decision.reason },
          lastRefusal: refusal,
        });
      }
    }
    return 'term';
  }

  async #loadManifest(name: string, version: string): Promise<Manifest | undefined> {
    const manifest = await this.#z.catalog.get(name, version);
    if (!manifest) return undefined;
    verifyManifest(manifest, this.#z.rt.trusted);
    return manifest;
  }

  /** Obeys `ferry suspend/resume` (`<site>._control`): the current value now, then every change. */
  async #watchControl(): Promise<void> {
    const { topology } = this.#z;
    const key = siteControlKey(this.site);
    const log = this.#log.child({ component: 'control' });
    const apply = (value: unknown) => {
      const control = parseSiteControl(value);
      if (control && control.site === this.site) this.setSuspended(control.suspended);
    };
    // Read before any job is resumed, so a suspended site resumes none.
    try {
      const current = await topology.status.get(key);
      if (current?.operation === 'PUT' && current.length > 0) apply(current.json());
    } catch (err) {
      log.warn({ err: describeError(err).message }, 'cannot read suspend/resume state now; the watch will');
    }
    this.#controlWatch = new ControlWatch({
      open: () => topology.status.watch({ key, include: KvWatchInclude.LastValue }),
      apply,
      log,
    });
    this.#controlWatch.start();
  }
}
