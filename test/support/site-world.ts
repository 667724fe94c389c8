import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
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
import { createAgentRuntime, SiteAgent } from '@ferry/site-agent';
import type { KV } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
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
    const [s3, ...vcs] = await Promise.all([startS3(), ...sites.map((s) => startVcsim(s.vcsim))]);
    const vcsims = Object.fromEntries(sites.map((s, i) => [s.site, vcs[i]!]));
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

  async agentConfig(site: string): Promise<AgentConfig> {
    return loadAgentConfig(this.configs.get(site)!);
  }

  /** Starts an agent for `site` in this process. */
  /** Log records of agents started with `captureLogs`, by site. */
  readonly logs = new Map<string, Array<Record<string, unknown>>>();

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
