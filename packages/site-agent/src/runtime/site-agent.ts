import {
  Catalog,
  connectNats,
  describeError,
  ensureTopology,
  HEARTBEAT_INTERVAL_MS,
  openTopology,
  RolloutReader,
  type Topology,
} from '@ferry/shared';
import type { NatsConnection } from '@nats-io/transport-node';
import type { JobRunner } from '../jobs/job-runner.js';
import type { StatusWriter } from '../jobs/status-writer.js';
import type { Reconciler } from '../reconcile/reconciler.js';
import { PullServer } from '../transfer/pull-server.js';
import { type AgentHttp, type ReadinessCheck, startAgentHttp } from './agent-http.js';
import { type AgentMetrics, createAgentMetrics } from './agent-metrics.js';
import { checkReadiness, failingForSite, ReadinessReporter } from './agent-readiness.js';
import type { AgentRuntime } from './agent-runtime.js';
import { SiteTarget } from './site-target.js';
import { AGENT_VERSION } from './version.js';

export interface SiteAgentOptions {
  /** A connection to use instead of connecting from the config (tests, embedding). */
  nc?: NatsConnection;
  heartbeatIntervalMs?: number;
  /** Start the HTTP endpoints (default true). */
  http?: boolean;
}

/**
 * The per-zone daemon: one SiteTarget per Content Library of the zone (status, events, reconcile,
 * suspend/resume, heartbeat per site) over one shared cache, queues, PULL listener and NATS
 * connection; serves health and metrics, and shuts down without leaving half items. The
 * single-site accessors (`site`, `status`, `runner`, …) are the first target's.
 */
export class SiteAgent {
  readonly rt: AgentRuntime;
  readonly metrics: AgentMetrics;
  #nc: NatsConnection | undefined;
  #ownsConnection = false;
  #topology: Topology | undefined;
  #catalog: Catalog | undefined;
  readonly #targets: SiteTarget[] = [];
  #http: AgentHttp | undefined;
  #heartbeat: NodeJS.Timeout | undefined;
  #connected = false;
  #startedAt = new Date().toISOString();
  #stopping = false;
  readonly #options: SiteAgentOptions;
  readonly #readiness: ReadinessReporter;

  constructor(rt: AgentRuntime, options: SiteAgentOptions = {}) {
    this.rt = rt;
    this.#options = options;
    this.#readiness = new ReadinessReporter(
      () => this.readiness(),
      rt.log,
      () => this.httpUrl,
    );
    this.metrics = createAgentMetrics({
      queueDepth: () => rt.queues.depth,
      activeDownloads: () => rt.queues.active.downloads,
      activeImports: () => rt.queues.active.imports,
      peak: () => rt.queues.peak,
      suspended: () => this.#targets.some((t) => t.suspended),
      sites: () => this.#targets.map((t) => ({ site: t.site, suspended: t.suspended, running: t.runner.running })),
      bandwidth: () => bandwidthLimits(rt),
      ovaProofs: () => rt.proofs.counts,
    });
  }

  get site(): string {
    return this.rt.config.site;
  }

  get httpUrl(): string | undefined {
    return this.#http?.url;
  }

  /** Every site of the zone, in config order. */
  get targets(): readonly SiteTarget[] {
    return this.#targets;
  }

  target(site: string): SiteTarget {
    const t = this.#targets.find((x) => x.site === site);
    if (!t) throw new Error(`agent ${this.rt.config.agent} serves no site ${site}`);
    return t;
  }

  get #first(): SiteTarget {
    const t = this.#targets[0];
    if (!t) throw new Error('agent not started');
    return t;
  }

  get status(): StatusWriter {
    return this.#first.status;
  }

  get catalog(): Catalog {
    if (!this.#catalog) throw new Error('agent not started');
    return this.#catalog;
  }

  get runner(): JobRunner {
    return this.#first.runner;
  }

  get reconciler(): Reconciler {
    return this.#first.reconciler;
  }

  get suspended(): boolean {
    return this.#first.suspended;
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
      this.#nc = await connectNats(config.nats, { name: `ferry-agent ${config.agent}`, logger: log });
      this.#ownsConnection = true;
    }
    this.#connected = true;
    void this.#watchConnection(this.#nc);
    // Agents with least-privilege credentials may only open what the coordinator created.
    this.#topology = await openTopology(this.#nc).catch(() => ensureTopology(this.#nc!));
    this.#catalog = new Catalog(this.#topology.catalog);
    if (config.pull && config.targets.some((t) => t.transfer === 'pull')) {
      this.rt.pullServer = await PullServer.start({
        listen: config.pull.listen,
        certFile: config.pull.certFile,
        keyFile: config.pull.keyFile,
        url: config.pull.url,
        buckets: this.rt.buckets.vcenter ? [this.rt.buckets.vcenter] : [],
        logger: log,
      });
    }
    const zone = {
      rt: this.rt,
      nc: this.#nc,
      topology: this.#topology,
      catalog: this.#catalog,
      // Rollout gating (waves) is decided per site: each target asks with its own identity.
      rollouts: this.#topology.rollouts ? new RolloutReader(this.#topology.rollouts) : undefined,
      metrics: this.metrics,
      startedAt: this.#startedAt,
      notReady: (site: string) => this.#notReady(site),
    };
    for (const t of this.rt.targets) this.#targets.push(new SiteTarget(zone, t));
    for (const t of this.#targets) await t.start();

    if (this.#options.http !== false) {
      this.#http = await startAgentHttp(config.http.listen, {
        metrics: this.metrics,
        readiness: () => this.readiness(),
        log,
      });
    }
    await this.#beat();
    this.#heartbeat = setInterval(() => void this.#beat(), this.#options.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS);
    log.info(
      { agent: config.agent, sites: this.#targets.map((t) => t.site), zone: config.zone, version: AGENT_VERSION },
      'agent started',
    );
  }

  /** Stops taking work, lets running imports finish within the grace period, then fails them cleanly. */
  async stop(graceMs = this.rt.config.jobs.shutdownGraceMs): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    const log = this.rt.log;
    log.info({ graceMs }, 'stopping: no new work; waiting for running imports');
    clearInterval(this.#heartbeat);
    for (const t of this.#targets) await t.stopIntake();
    await Promise.all(this.#targets.map((t) => t.runner.drain(graceMs)));
    await this.#beat().catch((err: unknown) =>
      log.warn({ err: describeError(err).message }, 'last heartbeat not written'),
    );
    for (const t of this.#targets) t.status.close();
    await this.#http?.close();
    await this.rt.pullServer?.close();
    for (const t of this.rt.targets) {
      await t.library.logout(); // best effort: logs and never throws
      await t.deployCheck?.close(); // the same
    }
    if (this.#ownsConnection) {
      await this.#nc
        ?.drain()
        .catch((err: unknown) => log.warn({ err: describeError(err).message }, 'NATS connection not drained cleanly'));
    }
    log.info('agent stopped');
  }

  /** Second SIGTERM: abort running imports now (their sessions are still failed). */
  abort(): void {
    for (const t of this.#targets) t.runner.abortAll();
  }

  /** Suspends or resumes the first site (the single-site form); `target(site).setSuspended` for others. */
  setSuspended(suspended: boolean): void {
    this.#first.setSuspended(suspended);
  }

  readiness(): Promise<ReadinessCheck[]> {
    const single = this.rt.targets.length === 1;
    return checkReadiness({
      natsConnected: () => this.#connected && !this.#nc?.isClosed(),
      vcenters: this.rt.targets.map((t) => ({
        name: single ? 'vcenter' : `vcenter ${t.config.site}`,
        checkSession: () => t.library.checkSession(),
      })),
      cacheDir: this.rt.cache.dir,
    });
  }

  /** Failing readiness checks that concern `site` (its heartbeat carries them). */
  async #notReady(site: string): Promise<string[]> {
    const failing = this.#stopping ? this.#readiness.last : await this.#readiness.failing();
    return failingForSite(failing, site);
  }

  async #beat(): Promise<void> {
    await Promise.all(this.#targets.map((t) => t.beat()));
  }

  async #watchConnection(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      if (s.type === 'disconnect') this.#connected = false;
      else if (s.type === 'reconnect') this.#connected = true;
    }
  }
}

/** The configured limits, for the `/metrics` gauge. */
export function bandwidthLimits(
  rt: Pick<AgentRuntime, 'config'>,
): Array<{ scope: string; direction: 'store' | 'vcenter'; bytesPerSecond: number }> {
  const out: Array<{ scope: string; direction: 'store' | 'vcenter'; bytesPerSecond: number }> = [];
  const add = (scope: string, b: { store?: number; vcenter?: number }) => {
    if (b.store !== undefined) out.push({ scope, direction: 'store', bytesPerSecond: b.store });
    if (b.vcenter !== undefined) out.push({ scope, direction: 'vcenter', bytesPerSecond: b.vcenter });
  };
  add('agent', rt.config.bandwidth);
  for (const t of rt.config.targets) add(t.site, t.bandwidth);
  return out;
}
