import {
  Catalog,
  connectNats,
  describeError,
  ensureTopology,
  HEARTBEAT_INTERVAL_MS,
  type Heartbeat,
  imageRef,
  type Manifest,
  openTopology,
  parseSiteControl,
  RolloutReader,
  siteControlKey,
  siteKey,
  type Topology,
  verifyManifest,
} from '@ferry/shared';
import type { JsMsg } from '@nats-io/jetstream';
import { KvWatchInclude } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { type AgentHttp, type ReadinessCheck, startAgentHttp } from './agent-http.js';
import { AgentMetrics } from './agent-metrics.js';
import { checkReadiness, ReadinessReporter } from './agent-readiness.js';
import type { AgentRuntime } from './agent-runtime.js';
import { ControlWatch } from './control-watch.js';
import { EventConsumer, type MessageOutcome } from './event-consumer.js';
import { decideEvent, decodeEvent, type EventDecision } from './event-decision.js';
import { JobRunner } from './job-runner.js';
import { Reconciler } from './reconciler.js';
import { StatusWriter } from './status-writer.js';
import { AGENT_VERSION } from './version.js';

export interface SiteAgentOptions {
  /** A connection to use instead of connecting from the config (tests, embedding). */
  nc?: NatsConnection;
  heartbeatIntervalMs?: number;
  /** Start the HTTP endpoints (default true). */
  http?: boolean;
}

/**
 * The per-zone daemon: turns events into verified imports, keeps status and a
 * heartbeat, serves health and metrics, and shuts down without leaving half items.
 */
export class SiteAgent {
  readonly rt: AgentRuntime;
  readonly metrics: AgentMetrics;
  #nc: NatsConnection | undefined;
  #ownsConnection = false;
  #topology: Topology | undefined;
  #catalog: Catalog | undefined;
  #rollouts: RolloutReader | undefined;
  #status: StatusWriter | undefined;
  #runner: JobRunner | undefined;
  #consumer: EventConsumer | undefined;
  #http: AgentHttp | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  readonly #readiness: ReadinessReporter;
  #connected = false;
  #suspended = false;
  #startedAt = new Date().toISOString();
  #stopping = false;
  readonly #options: SiteAgentOptions;
  #reconciler: Reconciler | undefined;
  #controlWatch: ControlWatch | undefined;

  constructor(rt: AgentRuntime, options: SiteAgentOptions = {}) {
    this.rt = rt;
    this.#options = options;
    this.#readiness = new ReadinessReporter(
      () => this.readiness(),
      rt.log,
      () => this.httpUrl,
    );
    this.metrics = new AgentMetrics({
      queueDepth: () => rt.queues.depth,
      activeDownloads: () => rt.queues.active.downloads,
      activeImports: () => rt.queues.active.imports,
      peak: () => rt.queues.peak,
      suspended: () => this.#suspended,
    });
  }

  get site(): string {
    return this.rt.config.site;
  }

  get httpUrl(): string | undefined {
    return this.#http?.url;
  }

  get status(): StatusWriter {
    if (!this.#status) throw new Error('agent not started');
    return this.#status;
  }

  get catalog(): Catalog {
    if (!this.#catalog) throw new Error('agent not started');
    return this.#catalog;
  }

  get runner(): JobRunner {
    if (!this.#runner) throw new Error('agent not started');
    return this.#runner;
  }

  get reconciler(): Reconciler {
    if (!this.#reconciler) throw new Error('agent not started');
    return this.#reconciler;
  }

  get suspended(): boolean {
    return this.#suspended;
  }

  async start(): Promise<void> {
    const { config, log } = this.rt;
    // An unwritable cache fails jobs (with CACHE_ERROR in their status) and /readyz, not the agent.
    await this.rt.cache
      .init()
      .catch((err: unknown) => log.error({ err: describeError(err).message }, 'cache not usable'));
    if (this.#options.nc) {
      this.#nc = this.#options.nc;
    } else {
      this.#nc = await connectNats(config.nats, { name: `ferry-agent ${config.site}`, logger: log });
      this.#ownsConnection = true;
    }
    this.#connected = true;
    void this.#watchConnection(this.#nc);
    // Agents with least-privilege credentials may only open what the coordinator created.
    this.#topology = await openTopology(this.#nc).catch(() => ensureTopology(this.#nc!));
    this.#catalog = new Catalog(this.#topology.catalog);
    this.#rollouts = this.#topology.rollouts ? new RolloutReader(this.#topology.rollouts) : undefined;
    this.#status = new StatusWriter(
      this.#topology.status,
      config.site,
      AGENT_VERSION,
      log.child({ component: 'status' }),
    );
    this.#runner = new JobRunner({
      importer: this.rt.importer,
      library: this.rt.library,
      ...(this.rt.deployCheck ? { checker: this.rt.deployCheck } : {}),
      status: this.#status,
      metrics: this.metrics,
      log,
      retry: config.jobs,
      loadManifest: (name, version) => this.#loadManifest(name, version),
      onSettled: () => void this.#beat(),
    });
    this.#runner.setSuspended(this.#suspended);

    await this.#watchControl(this.#topology);
    // Check VMs a crash left behind go first; resumed checks wait for the sweep (never awaited here:
    // a vCenter that is away must not hold up the agent's start).
    void this.rt.deployCheck?.cleanupAtStart();
    const records = await this.#status.load();
    const resumed = await this.#runner.resume(records);
    if (resumed) log.info({ resumed }, 'resumed unfinished jobs');

    this.#reconciler = new Reconciler({
      site: { site: config.site, zone: config.zone, labels: config.labels },
      catalog: this.#catalog,
      rollouts: this.#rollouts,
      trusted: this.rt.trusted,
      library: this.rt.library,
      libraryId: (refresh) => this.rt.libraryId(refresh),
      itemName: (m) => this.rt.importer.itemName(m),
      keepVersions: config.retention.keepVersions,
      prune: config.reconcile.prune,
      reportKv: this.#topology.status,
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
          await this.rt.library.deleteItem(action.itemId);
          await this.status.update(action.marker.name, action.marker.version, {
            state: 'retired',
            sha256: manifest?.sha256 ?? action.marker.sha256,
            libraryItemId: undefined,
          });
        },
      },
    });

    this.#consumer = new EventConsumer({
      nc: this.#nc,
      site: config.site,
      log: log.child({ component: 'events' }),
      handle: (msg) => this.#handle(msg),
    });
    await this.#consumer.start();

    if (this.#options.http !== false) {
      this.#http = await startAgentHttp(config.http.listen, {
        metrics: this.metrics,
        readiness: () => this.readiness(),
        log,
      });
    }
    await this.#beat();
    this.#heartbeat = setInterval(() => void this.#beat(), this.#options.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS);
    log.info({ zone: config.zone, version: AGENT_VERSION }, 'agent started');
    if (config.reconcile.enabled) {
      this.#reconciler.schedule(config.reconcile.schedule, config.reconcile.timezone, config.reconcile.jitterMs);
      void this.#reconciler.run('start');
    }
  }

  /** Stops taking work, lets running imports finish within the grace period, then fails them cleanly. */
  async stop(graceMs = this.rt.config.jobs.shutdownGraceMs): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    const log = this.rt.log;
    log.info({ graceMs }, 'stopping: no new work; waiting for running imports');
    clearInterval(this.#heartbeat);
    this.#reconciler?.stop();
    await this.#controlWatch?.stop();
    await this.#consumer?.stop();
    await this.#runner?.drain(graceMs);
    await this.#beat().catch((err: unknown) =>
      log.warn({ err: describeError(err).message }, 'last heartbeat not written'),
    );
    this.#status?.close();
    await this.#http?.close();
    await this.rt.library.logout(); // best effort: logs and never throws
    await this.rt.deployCheck?.close(); // the same
    if (this.#ownsConnection) {
      await this.#nc
        ?.drain()
        .catch((err: unknown) => log.warn({ err: describeError(err).message }, 'NATS connection not drained cleanly'));
    }
    log.info('agent stopped');
  }

  /** Second SIGTERM: abort running imports now (their sessions are still failed). */
  abort(): void {
    this.#runner?.abortAll();
  }

  setSuspended(suspended: boolean): void {
    if (suspended === this.#suspended) return;
    this.#suspended = suspended;
    this.rt.log.info({ suspended }, suspended ? 'site suspended: no new jobs' : 'site resumed');
    void this.#beat();
    this.#runner?.setSuspended(suspended);
  }

  readiness(): Promise<ReadinessCheck[]> {
    return checkReadiness({
      natsConnected: () => this.#connected && !this.#nc?.isClosed(),
      checkVcenterSession: () => this.rt.library.checkSession(),
      cacheDir: this.rt.cache.dir,
    });
  }

  async #handle(msg: JsMsg): Promise<MessageOutcome> {
    const decoded = decodeEvent(msg.data);
    if ('action' in decoded) return this.#reject(decoded, msg.seq);
    const { event } = decoded;
    this.metrics.eventsReceived.inc({ kind: event.kind });
    const current =
      event.kind === 'reconcile' ? undefined : this.status.current(event.manifest.name, event.manifest.version);
    // A rollout that cannot be read fails the message (redelivered later): never import past a wave by accident.
    const rollout =
      event.kind === 'published' || event.kind === 'republish'
        ? await this.#rollouts?.get(event.manifest.name, event.manifest.version)
        : undefined;
    const decision = decideEvent(event, {
      site: { site: this.site, zone: this.rt.config.zone, labels: this.rt.config.labels },
      trusted: this.rt.trusted,
      current,
      ...(rollout ? { rollout } : {}),
    });
    const log = this.rt.log.child({ seq: msg.seq, kind: event.kind });
    switch (decision.action) {
      case 'reject':
        return this.#reject(decision, msg.seq);
      case 'ignore':
        log.debug(
          {
            reason: decision.reason,
            image: decision.manifest && imageRef(decision.manifest.name, decision.manifest.version),
          },
          'event ignored',
        );
        return 'ack';
      case 'reconcile':
        void this.#reconciler?.run('event');
        return 'ack';
      case 'retire':
        await this.runner.retire(decision.manifest, this.rt.config.reconcile.prune);
        return 'ack';
      case 'import':
        // Recorded durably, then acked; the import runs in the background (imports take hours).
        await this.runner.request(decision.manifest, { force: decision.force, source: 'event' });
        return 'ack';
    }
  }

  async #reject(decision: Extract<EventDecision, { action: 'reject' }>, seq: number): Promise<MessageOutcome> {
    this.metrics.eventsRejected.inc({ code: decision.code });
    this.rt.log.warn({ seq, code: decision.code, reason: decision.reason }, 'event rejected');
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
    const manifest = await this.catalog.get(name, version);
    if (!manifest) return undefined;
    verifyManifest(manifest, this.rt.trusted);
    return manifest;
  }

  async #beat(): Promise<void> {
    if (!this.#topology) return;
    const { config } = this.rt;
    const notReady = this.#stopping ? this.#readiness.last : await this.#readiness.failing();
    const hb: Heartbeat = {
      site: config.site,
      zone: config.zone,
      labels: config.labels,
      agentVersion: AGENT_VERSION,
      lastSeen: new Date().toISOString(),
      startedAt: this.#startedAt,
      queueDepth: this.rt.queues.depth,
      activeDownloads: this.rt.queues.active.downloads,
      activeImports: this.rt.queues.active.imports,
      cacheFreeBytes: await this.rt.cache.freeBytes(),
      suspended: this.#suspended,
      ready: notReady.length === 0,
      notReady,
    };
    try {
      await this.#topology.sites.put(siteKey(config.site), JSON.stringify(hb));
    } catch (err) {
      this.rt.log.debug({ err: describeError(err).message }, 'heartbeat not written');
    }
  }

  /** Obeys `ferry suspend/resume` (`<site>._control`): the current value now, then every change. */
  async #watchControl(topology: Topology): Promise<void> {
    const key = siteControlKey(this.site);
    const log = this.rt.log.child({ component: 'control' });
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

  async #watchConnection(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') this.#connected = false;
      else if (s.type === 'reconnect') this.#connected = true;
    }
  }
}
