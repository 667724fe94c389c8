/**
 * The compiled stage of a config (after options → with defaults): what constructors take.
 * Secrets are read from their files or the environment, relative paths are made absolute
 * against the config file's directory, and durations carry their unit in the name (`…Ms`).
 * No defaults here: every value is already present in the with-defaults input (config.ts).
 */
import { constants } from 'node:fs';
import { access, readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import type { AgentOptionsWithDefaults, CoordinatorOptionsWithDefaults } from './config.js';
import { ConfigError, fsReason } from './errors.js';
import type { RolloutGate, WaveSpec } from './rollout.js';
import { Secret } from './secret.js';
import {
  type BandwidthConfig,
  type DeployCheckSettings,
  type PullConfig,
  resolveDeployCheck,
} from './zone-parts-config.js';

type RawStore = AgentOptionsWithDefaults['store'];
type RawNats = AgentOptionsWithDefaults['nats'];
type RawVsphere = NonNullable<AgentOptionsWithDefaults['vsphere']>;

export interface TlsFiles {
  caFile?: string;
  certFile?: string;
  keyFile?: string;
  insecure: boolean;
}

export interface NatsConfig {
  servers: string[];
  name?: string;
  credsFile?: string;
  user?: string;
  password?: Secret;
  token?: Secret;
  tls?: TlsFiles;
  inboxPrefix?: string;
}

export type StoreConfig =
  | {
      type: 's3';
      endpoint?: string;
      bucket: string;
      region: string;
      forcePathStyle: boolean;
      prefix?: string;
      accessKeyId?: Secret;
      secretAccessKey?: Secret;
      caFile?: string;
      insecure: boolean;
    }
  | {
      type: 'artifactory';
      url: string;
      repo: string;
      token?: Secret;
      apiKey?: Secret;
      caFile?: string;
      insecure: boolean;
    }
  | { type: 'file'; root: string };

export interface VsphereConfig {
  url: string;
  username: string;
  password: Secret;
  insecure: boolean;
  caFile?: string;
  library: string;
  datastore: string;
  itemName: string;
  keepAliveMs: number;
}

/** One Content Library the agent fills: one site (status column) in one vCenter. */
export interface TargetConfig {
  site: string;
  /** The agent's labels with the target's over them. */
  labels: Record<string, string>;
  vsphere: VsphereConfig;
  transfer: 'push' | 'pull';
  /** Imports into this target at once; undefined: only the agent's cap applies. */
  imports?: number;
  /** Limits of this target's traffic (`store` is agent-wide only). */
  bandwidth: BandwidthConfig;
  /** Site id of the target whose library this one's subscribed library follows. */
  subscribe?: string;
  /** The target's deploy check (its own `deployCheck`, else the agent's). */
  deployCheck: DeployCheckSettings;
}

export interface AgentConfig {
  file: string;
  /** Agent id: names the process in NATS and in its sites' heartbeats. */
  agent: string;
  /** The first target's site (the single-target form's `site`). */
  site: string;
  zone: string;
  labels: Record<string, string>;
  nats: NatsConfig;
  store: StoreConfig;
  /** The first target's vCenter (the single-target form's `vsphere`). */
  vsphere: VsphereConfig;
  /** Every Content Library of the zone; the single-target form is normalized to one. */
  targets: TargetConfig[];
  pull?: PullConfig;
  bandwidth: BandwidthConfig;
  cache: { dir: string; maxBytes: number };
  concurrency: { downloads: number; imports: number };
  reconcile: { schedule: string; timezone: string; jitterMs: number; prune: boolean; enabled: boolean };
  retention: { keepVersions: number };
  trust: { publicKeys: string[] };
  http: { listen: string };
  jobs: { maxAttempts: number; retryBaseMs: number; retryMaxMs: number; shutdownGraceMs: number };
  deployCheck: DeployCheckSettings;
  log: { level: string };
}

export interface CoordinatorConfig {
  file: string;
  nats: NatsConfig;
  store: StoreConfig;
  /** Absent when the config has no `signing:` block (read-only use: status, sites). */
  signing?: { privateKeyFile: string };
  jetstream: { replicas: number };
  discovery: { schedule: string; prefix: string; enabled: boolean; targets: string[] };
  http: { listen: string; token?: Secret; tokenName: string; webhookSecret?: Secret };
  rollout: { gate: RolloutGate; waves: WaveSpec[] };
  log: { level: string };
}

/** Where secrets may come from besides `*File` keys. Tests pass their own map. */
export type Env = Record<string, string | undefined>;

class Resolver {
  constructor(
    readonly file: string,
    readonly env: Env,
  ) {}

  path(p: string): string;
  path(p: string | undefined): string | undefined;
  path(p: string | undefined): string | undefined {
    if (p === undefined) return undefined;
    return isAbsolute(p) ? p : resolve(dirname(this.file), p);
  }

  /** Every secret or other file that could not be used: reported together, so one run shows them all. */
  readonly problems: Array<{ key: string; message: string }> = [];

  problem(key: string, message: string): void {
    this.problems.push({ key, message });
  }

  /** Throws one ConfigError naming every problem found while resolving. */
  throwIfProblems(): void {
    if (this.problems.length === 0) return;
    const text = this.problems.map((p) => `${p.key}: ${p.message}`).join('; ');
    throw new ConfigError(`${this.file}: ${text}`, this.file, this.problems[0]?.key);
  }

  /**
   * A `*File` setting that is not a secret (CA, certificate, creds): resolved, and readable now, so
   * a missing CA file is reported by its key at load time rather than as a TLS error later.
   */
  async readable(key: string, p: string | undefined): Promise<string | undefined> {
    const path = this.path(p);
    if (path === undefined) return undefined;
    try {
      const info = await stat(path);
      if (info.isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
      await access(path, constants.R_OK);
    } catch (err) {
      this.problem(key, `${path} ${fsReason(err)}: fix the path`);
    }
    return path;
  }

  async secret(key: string, fileValue: string | undefined, envName: string): Promise<Secret | undefined> {
    if (fileValue !== undefined) {
      const path = this.path(fileValue);
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        this.problem(key, `secret file ${path} ${fsReason(err)}`);
        return undefined;
      }
      const value = text.trim();
      if (!value) {
        this.problem(key, `secret file ${path} is empty`);
        return undefined;
      }
      return new Secret(value, `${key} ${path}`);
    }
    const fromEnv = this.env[envName];
    return fromEnv ? new Secret(fromEnv, envName) : undefined;
  }

  async nats(raw: RawNats): Promise<NatsConfig> {
    return {
      servers: raw.servers,
      name: raw.name,
      credsFile: await this.readable('nats.credsFile', raw.credsFile),
      user: raw.user,
      password: await this.secret('nats.passwordFile', raw.passwordFile, 'FERRY_NATS_PASSWORD'),
      token: await this.secret('nats.tokenFile', raw.tokenFile, 'FERRY_NATS_TOKEN'),
      tls: raw.tls && {
        caFile: await this.readable('nats.tls.caFile', raw.tls.caFile),
        certFile: await this.readable('nats.tls.certFile', raw.tls.certFile),
        keyFile: await this.readable('nats.tls.keyFile', raw.tls.keyFile),
        insecure: raw.tls.insecure,
      },
      inboxPrefix: raw.inboxPrefix,
    };
  }

  async store(raw: RawStore): Promise<StoreConfig> {
    switch (raw.type) {
      case 's3':
        return {
          type: 's3',
          endpoint: raw.endpoint,
          bucket: raw.bucket,
          region: raw.region,
          forcePathStyle: raw.forcePathStyle,
          prefix: raw.prefix,
          accessKeyId: await this.secret('store.accessKeyIdFile', raw.accessKeyIdFile, 'AWS_ACCESS_KEY_ID'),
          secretAccessKey: await this.secret(
            'store.secretAccessKeyFile',
            raw.secretAccessKeyFile,
            'AWS_SECRET_ACCESS_KEY',
          ),
          caFile: await this.readable('store.caFile', raw.caFile),
          insecure: raw.insecure,
        };
      case 'artifactory':
        return {
          type: 'artifactory',
          url: raw.url,
          repo: raw.repo,
          token: await this.secret('store.tokenFile', raw.tokenFile, 'FERRY_ARTIFACTORY_TOKEN'),
          apiKey: await this.secret('store.apiKeyFile', raw.apiKeyFile, 'FERRY_ARTIFACTORY_API_KEY'),
          caFile: await this.readable('store.caFile', raw.caFile),
          insecure: raw.insecure,
        };
      case 'file':
        return { type: 'file', root: this.path(raw.root) };
    }
  }
}

/**
 * Stage 3 of a config: `build` resolves the with-defaults options of `file` (paths, secrets, files
 * that must be readable), then every problem it met is thrown as one ConfigError.
 */
function compiler<Raw, Config>(build: (r: Resolver, raw: Raw) => Promise<Config>) {
  return async (raw: Raw, file: string, env: Env = process.env): Promise<Config> => {
    const r = new Resolver(file, env);
    const config = await build(r, raw);
    r.throwIfProblems();
    return config;
  };
}

/** With-defaults agent options → the AgentConfig the runtime is built from. */
export const compileAgentConfig = compiler(agentConfig);

/** With-defaults coordinator options → the CoordinatorConfig the daemon and the CLI use. */
export const compileCoordinatorConfig = compiler(coordinatorConfig);

async function agentConfig(r: Resolver, raw: AgentOptionsWithDefaults): Promise<AgentConfig> {
  const rawTargets = raw.targets ?? [
    // The single-target form; the schema guarantees site and vsphere here.
    { site: raw.site as string, labels: {}, vsphere: raw.vsphere as RawVsphere, transfer: 'push' as const },
  ];
  const targets: TargetConfig[] = [];
  for (const [i, t] of rawTargets.entries()) {
    const key = raw.targets ? `targets.${i}.vsphere` : 'vsphere';
    targets.push({
      site: t.site,
      labels: { ...raw.labels, ...t.labels },
      vsphere: await vsphereConfig(r, key, t.vsphere),
      transfer: t.transfer,
      ...(t.concurrency?.imports === undefined ? {} : { imports: t.concurrency.imports }),
      bandwidth: t.bandwidth ?? {},
      ...(t.subscribe === undefined ? {} : { subscribe: t.subscribe }),
      deployCheck: resolveDeployCheck(t.deployCheck ?? raw.deployCheck),
    });
  }
  const nats = await r.nats(raw.nats);
  const store = await r.store(raw.store);
  const pull = raw.pull && {
    ...raw.pull,
    certFile: await r.readable('pull.certFile', raw.pull.certFile),
    keyFile: await r.readable('pull.keyFile', raw.pull.keyFile),
  };
  const first = targets[0]!;
  return {
    file: r.file,
    agent: raw.agent ?? first.site,
    site: first.site,
    zone: raw.zone,
    labels: raw.labels,
    nats,
    store,
    vsphere: first.vsphere,
    targets,
    ...(pull === undefined ? {} : { pull }),
    bandwidth: raw.bandwidth,
    cache: { dir: r.path(raw.cache.dir), maxBytes: raw.cache.maxBytes },
    concurrency: raw.concurrency,
    reconcile: {
      schedule: raw.reconcile.schedule,
      timezone: raw.reconcile.timezone,
      jitterMs: raw.reconcile.jitter,
      prune: raw.reconcile.prune,
      enabled: raw.reconcile.enabled,
    },
    retention: raw.retention,
    trust: { publicKeys: raw.trust.publicKeys.map((p) => r.path(p)) },
    http: raw.http,
    jobs: {
      maxAttempts: raw.jobs.maxAttempts,
      retryBaseMs: raw.jobs.retryBase,
      retryMaxMs: raw.jobs.retryMax,
      shutdownGraceMs: raw.jobs.shutdownGrace,
    },
    deployCheck: resolveDeployCheck(raw.deployCheck),
    log: raw.log,
  };
}

async function vsphereConfig(r: Resolver, key: string, raw: RawVsphere): Promise<VsphereConfig> {
  const password = await r.secret(`${key}.passwordFile`, raw.passwordFile, 'FERRY_VSPHERE_PASSWORD');
  if (!password && raw.passwordFile === undefined) {
    r.problem(`${key}.passwordFile`, `no vCenter password: set ${key}.passwordFile or FERRY_VSPHERE_PASSWORD`);
  }
  return {
    url: raw.url,
    username: raw.username,
    password: password as Secret, // set: a missing password is a problem thrown by the caller
    insecure: raw.insecure,
    caFile: await r.readable(`${key}.caFile`, raw.caFile),
    library: raw.library,
    datastore: raw.datastore,
    itemName: raw.itemName,
    keepAliveMs: raw.keepAlive,
  };
}

async function coordinatorConfig(r: Resolver, raw: CoordinatorOptionsWithDefaults): Promise<CoordinatorConfig> {
  return {
    file: r.file,
    nats: await r.nats(raw.nats),
    store: await r.store(raw.store),
    ...(raw.signing ? { signing: { privateKeyFile: r.path(raw.signing.privateKeyFile) } } : {}),
    jetstream: raw.jetstream,
    discovery: raw.discovery,
    http: {
      listen: raw.http.listen,
      tokenName: raw.http.tokenName,
      token: await r.secret('http.tokenFile', raw.http.tokenFile, 'FERRY_API_TOKEN'),
      webhookSecret: await r.secret('http.webhookSecretFile', raw.http.webhookSecretFile, 'FERRY_WEBHOOK_SECRET'),
    },
    rollout: {
      gate: raw.rollout.gate,
      waves: raw.rollout.waves.map((w) => ({ name: w.name, targets: w.targets, soakMs: w.soak })),
    },
    log: raw.log,
  };
}
