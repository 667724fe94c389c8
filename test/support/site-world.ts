import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import {
  type AgentConfig,
  Catalog,
  createLogger,
  EventBus,
  ensureTopology,
  loadAgentConfig,
  type Manifest,
  type ObjectStore,
  parseStatusRecord,
  publishedMsgId,
  type StatusRecord,
  silentLogger,
  statusKey,
  type Topology,
} from '@ferry/shared';
import { createAgentRuntime, SiteAgent } from '@ferry/site-agent/internal';
import type { KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { type NatsHandle, startHubWithLeaves, startNats } from '../world/nats.js';
import { type BuiltOva, buildOva, type OvaSpec } from '../world/ova.js';
import { type S3Handle, s3Store, startS3 } from '../world/s3.js';
import { type StartVcsimOptions, startVcsim, type VcsimHandle } from '../world/vcsim.js';
import { type AgentConfigSpec, writeAgentConfig } from './agent-config.js';
import { makeTestKey, type StageOptions, stageImage, type TestKey } from './images.js';
import { type DaemonProcess, FERRY_AGENT_BIN, startDaemon } from './processes.js';
import type { TlsFiles } from './tls.js';
import { waitFor } from './wait.js';

export interface SiteSpec {
  site: string;
  zone?: string;
  labels?: Record<string, string>;
  vcsim?: StartVcsimOptions;
  /** No vcsim of its own: this site's library lives in that site's vcsim (e.g. a subscribed library). */
  sharesVcsimWith?: string;
}

/** One target of a zone agent's config (its vCenter is its site's vcsim). */
export interface ZoneTargetSpec {
  site: string;
  transfer?: 'push' | 'pull';
  /** Site id of the target whose library this one subscribes to. */
  subscribe?: string;
  library?: string;
  imports?: number;
  labels?: Record<string, string>;
  bandwidth?: { vcenter?: string };
  /** Reach the vCenter through this URL (e.g. a fault proxy in front of the vcsim). */
  vsphereUrl?: string;
  /** The target's own `deployCheck` block. */
  deployCheck?: Record<string, unknown>;
}

export interface WorldOptions {
  /** `leaves`: a JetStream hub with one leaf node per site, agents on their leaf (as in production). */
  nats?: 'single' | 'leaves';
  /** NATS with TLS and verified client certificates (single server only). */
  natsTls?: TlsFiles;
  /** NATS with user/password authorization (single server only). */
  natsAuth?: { user: string; password: string };
}

/**
 * A whole test world on loopback: one nats-server (JetStream), one s3rver, one
 * vcsim per site, a signing key, and helpers to publish like the coordinator
 * does and to run agents in this process.
 */
export class SiteWorld {
  readonly agents = new Map<string, SiteAgent>();
  readonly configs = new Map<string, string>();
  #ovaCount = 0;

  private constructor(
    readonly dir: string,
    readonly nats: NatsHandle,
    /** Per site: the leaf node its agent uses (only with `nats: 'leaves'`). */
    readonly leaves: Record<string, NatsHandle>,
    readonly stopNats: () => Promise<void>,
    readonly s3: S3Handle,
    readonly vcsims: Record<string, VcsimHandle>,
    readonly key: TestKey,
    readonly nc: NatsConnection,
    readonly topology: Topology,
    readonly store: ObjectStore,
    readonly sites: SiteSpec[],
    readonly natsTls?: TlsFiles,
    readonly natsAuth?: { user: string; password: string },
  ) {}

  static async start(sites: SiteSpec[], options: WorldOptions = {}): Promise<SiteWorld> {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-world-'));
    let nats: NatsHandle;
    let leaves: Record<string, NatsHandle> = {};
    let stopNats: () => Promise<void>;
    if (options.nats === 'leaves') {
      const hub = await startHubWithLeaves(sites.map((s) => s.site));
      nats = hub.hub;
      leaves = hub.leaves;
      stopNats = () => hub.stop();
    } else {
      const tls = options.natsTls;
      const auth = options.natsAuth;
      const extra = [
        tls
          ? `tls {\n  cert_file: "${tls.serverCert}"\n  key_file: "${tls.serverKey}"\n  ca_file: "${tls.caFile}"\n  verify: true\n}`
          : '',
        auth ? `authorization {\n  user: "${auth.user}"\n  password: "${auth.password}"\n}` : '',
      ].join('\n');
      nats = await startNats({ extraConfig: extra });
      stopNats = () => nats.destroy();
    }
    const own = sites.filter((s) => !s.sharesVcsimWith);
    const [s3, ...vcs] = await Promise.all([startS3(), ...own.map((s) => startVcsim(s.vcsim))]);
    const vcsims: Record<string, VcsimHandle> = Object.fromEntries(own.map((s, i) => [s.site, vcs[i]!]));
    for (const s of sites) if (s.sharesVcsimWith) vcsims[s.site] = vcsims[s.sharesVcsimWith]!;
    const key = await makeTestKey(dir);
    const tls = options.natsTls;
    const nc = await connect({
      servers: nats.url,
      ...(tls ? { tls: { caFile: tls.caFile, certFile: tls.clientCert, keyFile: tls.clientKey } } : {}),
      ...(options.natsAuth ? { user: options.natsAuth.user, pass: options.natsAuth.password } : {}),
    });
    const topology = await ensureTopology(nc);
    const store = s3Store(s3);
    const world = new SiteWorld(
      dir,
      nats,
      leaves,
      stopNats,
      s3,
      vcsims,
      key,
      nc,
      topology,
      store,
      sites,
      tls,
      options.natsAuth,
    );
    for (const s of sites) await world.writeConfig(s.site);
    return world;
  }

  get catalog(): Catalog {
    return new Catalog(this.topology.catalog);
  }

  get statusKv(): KV {
    return this.topology.status;
  }

  async writeConfig(site: string, extra: Partial<AgentConfigSpec> = {}): Promise<string> {
    const spec = this.sites.find((s) => s.site === site);
    if (!spec) throw new Error(`unknown site ${site}`);
    const file = await writeAgentConfig({
      dir: join(this.dir, 'sites', site),
      site,
      zone: spec.zone,
      labels: spec.labels,
      natsUrls: [this.leaves[site]?.url ?? this.nats.url],
      s3: this.s3,
      vcsim: this.vcsims[site]!,
      publicKeyFile: this.key.publicKeyFile,
      ...extra,
      extra: {
        reconcile: { enabled: false },
        jobs: { retryBase: '200ms', retryMax: '2s', shutdownGrace: '5s' },
        ...(this.natsAuth
          ? { nats: { servers: [this.nats.url], user: this.natsAuth.user, passwordFile: 'nats.pass' } }
          : {}),
        ...(this.natsTls
          ? {
              nats: {
                servers: [this.nats.url],
                tls: {
                  caFile: this.natsTls.caFile,
                  certFile: this.natsTls.clientCert,
                  keyFile: this.natsTls.clientKey,
                },
              },
            }
          : {}),
        ...extra.extra,
      },
    });
    if (this.natsAuth) await writeFile(join(dirname(file), 'nats.pass'), this.natsAuth.password, { mode: 0o600 });
    this.configs.set(site, file);
    return file;
  }

  /**
   * Writes a zone agent's config: one agent (`agent`, also its key for startAgent) serving the
   * given targets, each in its site's vcsim; returns its path.
   */
  async writeZoneConfig(
    agent: string,
    targets: ZoneTargetSpec[],
    options: Pick<AgentConfigSpec, 's3Endpoint' | 'concurrency' | 'extra'> = {},
  ): Promise<string> {
    const dir = join(this.dir, 'zones', agent);
    const first = this.sites.find((s) => s.site === targets[0]!.site)!;
    const file = await writeAgentConfig({
      dir,
      site: agent,
      zone: first.zone,
      natsUrls: [this.nats.url],
      s3: this.s3,
      ...(options.s3Endpoint ? { s3Endpoint: options.s3Endpoint } : {}),
      vcsim: this.vcsims[first.site]!,
      publicKeyFile: this.key.publicKeyFile,
      ...(options.concurrency ? { concurrency: options.concurrency } : {}),
      extra: {
        reconcile: { enabled: false },
        jobs: { retryBase: '200ms', retryMax: '2s', shutdownGrace: '5s' },
        ...options.extra,
      },
    });
    const config = parseYaml(await readFile(file, 'utf8')) as Record<string, unknown>;
    delete config.site;
    delete config.vsphere;
    config.agent = agent;
    config.targets = [];
    for (const t of targets) {
      const vc = this.vcsims[t.site];
      if (!vc) throw new Error(`unknown site ${t.site}`);
      await writeFile(join(dir, `vcenter-${t.site}.pass`), vc.password, { mode: 0o600 });
      const spec = this.sites.find((s) => s.site === t.site);
      (config.targets as unknown[]).push({
        site: t.site,
        labels: { ...spec?.labels, ...t.labels },
        vsphere: {
          url: t.vsphereUrl ?? vc.url,
          username: vc.username,
          passwordFile: `vcenter-${t.site}.pass`,
          caFile: vc.caFile,
          library: t.library ?? 'golden-images',
          datastore: vc.datastoreId,
        },
        ...(t.transfer ? { transfer: t.transfer } : {}),
        ...(t.subscribe ? { subscribe: t.subscribe } : {}),
        ...(t.imports ? { concurrency: { imports: t.imports } } : {}),
        ...(t.bandwidth ? { bandwidth: t.bandwidth } : {}),
        ...(t.deployCheck ? { deployCheck: t.deployCheck } : {}),
      });
    }
    await writeFile(file, stringifyYaml(config));
    this.configs.set(agent, file);
    return file;
  }

  async agentConfig(site: string): Promise<AgentConfig> {
    return loadAgentConfig(this.configs.get(site)!);
  }

  /** Log records of agents started with `captureLogs`, by site. */
  readonly logs = new Map<string, Array<Record<string, unknown>>>();

  /** Starts an agent for `site` (or the zone agent written by writeZoneConfig) in this process. */
  async startAgent(
    site: string,
    options: { heartbeatIntervalMs?: number; logLevel?: string; captureLogs?: boolean } = {},
  ): Promise<SiteAgent> {
    const config = await this.agentConfig(site);
    let log = options.logLevel ? createLogger({ level: options.logLevel }).child({ site }) : silentLogger();
    if (options.captureLogs) {
      const lines: Array<Record<string, unknown>> = [];
      this.logs.set(site, lines);
      log = createLogger({ level: 'debug', destination: { write: (msg: string) => void lines.push(JSON.parse(msg)) } });
    }
    const agent = new SiteAgent(await createAgentRuntime(config, log), {
      heartbeatIntervalMs: options.heartbeatIntervalMs ?? 500,
    });
    await agent.start();
    this.agents.set(site, agent);
    return agent;
  }

  readonly processes: DaemonProcess[] = [];

  /** Starts `ferry-agent --config <site.yaml>` as a real process. */
  startAgentProcess(site: string): DaemonProcess {
    const p = startDaemon(FERRY_AGENT_BIN, ['--config', this.configs.get(site)!]);
    this.processes.push(p);
    return p;
  }

  async stopAgent(site: string, graceMs = 5_000): Promise<void> {
    await this.agents.get(site)?.stop(graceMs);
    this.agents.delete(site);
  }

  async buildOva(spec: OvaSpec & { name: string }): Promise<BuiltOva> {
    const sub = join(this.dir, 'ovas', String(this.#ovaCount++));
    await mkdir(sub, { recursive: true });
    return buildOva(sub, { diskSize: 256 * 1024, ...spec });
  }

  /** What `ferry publish` does: store the OVA and sidecar, catalog entry, `published` event. */
  async publish(ova: BuiltOva, opts: StageOptions): Promise<Manifest> {
    const manifest = await stageImage(this.store, this.key, ova, opts);
    await this.catalog.put(manifest);
    await new EventBus(this.nc).publish('all', { kind: 'published', manifest }, publishedMsgId(manifest));
    return manifest;
  }

  /** Retries `fn` for a while: the test's own client may still be reconnecting after a broker restart. */
  async retry<T>(fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
    const box = await waitFor(async () => ({ value: await fn() }), {
      what: 'a retried call to succeed',
      timeoutMs,
      intervalMs: 250,
      ignoreErrors: true,
    });
    return box.value;
  }

  async status(site: string, name: string, version: string): Promise<StatusRecord | undefined> {
    const entry = await this.statusKv.get(statusKey(site, name, version));
    if (entry?.operation !== 'PUT' || entry.length === 0) return undefined;
    return parseStatusRecord(entry.json());
  }

  /** Polls until the site's record for the image satisfies `pred` (default: ready). */
  async waitForStatus(
    site: string,
    name: string,
    version: string,
    pred: (r: StatusRecord) => boolean = (r) => r.state === 'ready',
    timeoutMs = 60_000,
  ): Promise<StatusRecord> {
    let last: StatusRecord | undefined;
    return waitFor(
      async () => {
        last = await this.status(site, name, version);
        return last && pred(last) ? last : undefined;
      },
      { what: () => `${site} ${name}@${version}; last status: ${JSON.stringify(last)}`, timeoutMs },
    );
  }

  async stop(): Promise<void> {
    for (const site of [...this.agents.keys()])
      await this.stopAgent(site, 1_000).catch((err: unknown) => console.warn('cleanup failed:', err));
    await this.nc.close().catch((err: unknown) => console.warn('cleanup failed:', err));
    await Promise.allSettled([
      this.nats.destroy(),
      this.s3.destroy(),
      ...Object.values(this.vcsims).map((v) => v.stop()),
    ]);
    await rm(this.dir, { recursive: true, force: true });
  }
}
