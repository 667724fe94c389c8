import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import cron from 'node-cron';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { duration, httpUrl, listen, size } from './config-fields.js';
import { ConfigError } from './errors.js';
import { isSiteId, SITE_ID_RULE } from './names.js';
import { formatIssues } from './schema-error.js';
import { Secret } from './secret.js';
import { type DeployCheckSettings, deployCheckConfigSchema, resolveDeployCheck } from './zone-parts-config.js';

const natsUrl = z.string().refine((v) => {
  try {
    const u = new URL(v.includes('://') ? v : `nats://${v}`);
    return ['nats:', 'tls:', 'ws:', 'wss:'].includes(u.protocol) && u.hostname !== '';
  } catch {
    return false;
  }
}, 'expected a NATS URL like nats://host:4222');

const siteId = z.string().refine(isSiteId, SITE_ID_RULE);

/** A node-cron expression: a typo is refused at start, not found out when no pass ever runs. */
const cronSchedule = z
  .string()
  .refine((v) => cron.validate(v), 'expected a cron expression with 5 or 6 fields, e.g. "*/15 * * * *"');

const timezone = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'expected an IANA time zone, e.g. UTC or Europe/Berlin');

/** Secrets are never inline in YAML: refuse with a message that says where to put them. */
function noInlineSecret(instead: string) {
  return z
    .unknown()
    .optional()
    .superRefine((v, ctx) => {
      if (v !== undefined) ctx.addIssue({ code: 'custom', message: `inline secrets are not accepted: use ${instead}` });
    });
}

const tlsSchema = z.strictObject({
  caFile: z.string().optional(),
  certFile: z.string().optional(),
  keyFile: z.string().optional(),
  insecure: z.boolean().default(false),
});

const natsSchema = z.strictObject({
  servers: z.array(natsUrl).min(1),
  name: z.string().optional(),
  credsFile: z.string().optional(),
  user: z.string().optional(),
  passwordFile: z.string().optional(),
  password: noInlineSecret('passwordFile or FERRY_NATS_PASSWORD'),
  tokenFile: z.string().optional(),
  token: noInlineSecret('tokenFile or FERRY_NATS_TOKEN'),
  tls: tlsSchema.optional(),
  /**
   * Subject prefix of this client's reply inboxes (default `_INBOX`). Give each agent its own
   * (e.g. `_INBOX.ferry-agent-dc1-corp`) so its NATS user may subscribe to its replies only.
   */
  inboxPrefix: z
    .string()
    .regex(
      /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/,
      'expected subject tokens without wildcards, e.g. _INBOX.ferry-agent-dc1-corp',
    )
    .optional(),
});

const storeSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('s3'),
    endpoint: httpUrl.optional(),
    bucket: z.string().min(3).max(63),
    region: z.string().default('us-east-1'),
    forcePathStyle: z.boolean().default(false),
    prefix: z.string().optional(),
    accessKeyIdFile: z.string().optional(),
    secretAccessKeyFile: z.string().optional(),
    secretAccessKey: noInlineSecret('secretAccessKeyFile or AWS_SECRET_ACCESS_KEY'),
    caFile: z.string().optional(),
    insecure: z.boolean().default(false),
  }),
  z.strictObject({
    type: z.literal('artifactory'),
    url: httpUrl,
    repo: z.string().min(1),
    tokenFile: z.string().optional(),
    apiKeyFile: z.string().optional(),
    token: noInlineSecret('tokenFile or FERRY_ARTIFACTORY_TOKEN'),
    caFile: z.string().optional(),
    insecure: z.boolean().default(false),
  }),
  z.strictObject({ type: z.literal('file'), root: z.string().min(1) }),
]);

const vsphereSchema = z.strictObject({
  url: httpUrl,
  username: z.string().min(1),
  passwordFile: z.string().optional(),
  password: noInlineSecret('passwordFile or FERRY_VSPHERE_PASSWORD'),
  insecure: z.boolean().default(false),
  caFile: z.string().optional(),
  library: z.string().min(1),
  datastore: z.string().min(1),
  /** Library item name; `{name}` and `{version}` are replaced. */
  itemName: z
    .string()
    .default('{name}-{version}')
    .refine((v) => v.includes('{name}') && v.includes('{version}'), 'must contain {name} and {version}'),
  keepAlive: duration.default(5 * 60_000),
});

const logSchema = z.strictObject({
  level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
});

const agentSchema = z.strictObject({
  site: siteId,
  zone: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'expected letters, digits, _ - .'),
  labels: z.record(z.string(), z.string()).default({}),
  nats: natsSchema,
  store: storeSchema,
  vsphere: vsphereSchema,
  cache: z.strictObject({ dir: z.string().min(1), maxBytes: size.default(50 * 2 ** 30) }),
  concurrency: z
    .strictObject({
      downloads: z.number().int().min(1).max(64).default(2),
      imports: z.number().int().min(1).max(64).default(1),
    })
    .default({ downloads: 2, imports: 1 }),
  reconcile: z
    .strictObject({
      schedule: cronSchedule.default('*/15 * * * *'),
      timezone: timezone.default('UTC'),
      jitter: duration.default(60_000),
      prune: z.boolean().default(true),
      enabled: z.boolean().default(true),
    })
    .default({ schedule: '*/15 * * * *', timezone: 'UTC', jitter: 60_000, prune: true, enabled: true }),
  retention: z.strictObject({ keepVersions: z.number().int().min(1).default(3) }).default({ keepVersions: 3 }),
  trust: z.strictObject({ publicKeys: z.array(z.string()).min(1) }),
  http: z.strictObject({ listen: listen.default('127.0.0.1:9464') }).default({ listen: '127.0.0.1:9464' }),
  jobs: z
    .strictObject({
      maxAttempts: z.number().int().min(1).default(8),
      retryBase: duration.default(10_000),
      retryMax: duration.default(15 * 60_000),
      shutdownGrace: duration.default(60_000),
    })
    .default({ maxAttempts: 8, retryBase: 10_000, retryMax: 15 * 60_000, shutdownGrace: 60_000 }),
  deployCheck: deployCheckConfigSchema.prefault({}),
  log: logSchema.default({ level: 'info' }),
});

const coordinatorSchema = z.strictObject({
  nats: natsSchema,
  store: storeSchema,
  signing: z.strictObject({ privateKeyFile: z.string().min(1) }),
  /** Replicas of FERRY_EVENTS and the buckets when the coordinator creates them (3 on a 3-node hub). */
  jetstream: z.strictObject({ replicas: z.number().int().min(1).max(5).default(1) }).default({ replicas: 1 }),
  discovery: z
    .strictObject({
      schedule: cronSchedule.default('*/5 * * * *'),
      prefix: z.string().default(''),
      enabled: z.boolean().default(true),
      targets: z.array(z.string()).default(['*']),
    })
    .default({ schedule: '*/5 * * * *', prefix: '', enabled: true, targets: ['*'] }),
  http: z
    .strictObject({
      listen: listen.default('127.0.0.1:9470'),
      tokenFile: z.string().optional(),
      webhookSecretFile: z.string().optional(),
    })
    .default({ listen: '127.0.0.1:9470' }),
  log: logSchema.default({ level: 'info' }),
});

type RawAgent = z.infer<typeof agentSchema>;
type RawCoordinator = z.infer<typeof coordinatorSchema>;
type RawStore = z.infer<typeof storeSchema>;
type RawNats = z.infer<typeof natsSchema>;

// ---- resolved, typed config ----------------------------------------------

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

export interface AgentConfig {
  file: string;
  site: string;
  zone: string;
  labels: Record<string, string>;
  nats: NatsConfig;
  store: StoreConfig;
  vsphere: VsphereConfig;
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
  signing: { privateKeyFile: string };
  jetstream: { replicas: number };
  discovery: { schedule: string; prefix: string; enabled: boolean; targets: string[] };
  http: { listen: string; token?: Secret; webhookSecret?: Secret };
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

  /** Every secret file that could not be used: reported together, so one run shows them all. */
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

  async secret(key: string, fileValue: string | undefined, envName: string): Promise<Secret | undefined> {
    if (fileValue !== undefined) {
      const path = this.path(fileValue);
      let text: string;
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : (err as Error).message;
        this.problem(key, `secret file ${path} ${why}`);
        return undefined;
      }
      const value = text.trim();
      if (!value) {
        this.problem(key, `secret file ${path} is empty`);
        return undefined;
      }
      return new Secret(value);
    }
    const fromEnv = this.env[envName];
    return fromEnv ? new Secret(fromEnv) : undefined;
  }

  async nats(raw: RawNats): Promise<NatsConfig> {
    return {
      servers: raw.servers,
      name: raw.name,
      credsFile: this.path(raw.credsFile),
      user: raw.user,
      password: await this.secret('nats.passwordFile', raw.passwordFile, 'FERRY_NATS_PASSWORD'),
      token: await this.secret('nats.tokenFile', raw.tokenFile, 'FERRY_NATS_TOKEN'),
      tls: raw.tls && {
        caFile: this.path(raw.tls.caFile),
        certFile: this.path(raw.tls.certFile),
        keyFile: this.path(raw.tls.keyFile),
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
          caFile: this.path(raw.caFile),
          insecure: raw.insecure,
        };
      case 'artifactory':
        return {
          type: 'artifactory',
          url: raw.url,
          repo: raw.repo,
          token: await this.secret('store.tokenFile', raw.tokenFile, 'FERRY_ARTIFACTORY_TOKEN'),
          apiKey: await this.secret('store.apiKeyFile', raw.apiKeyFile, 'FERRY_ARTIFACTORY_API_KEY'),
          caFile: this.path(raw.caFile),
          insecure: raw.insecure,
        };
      case 'file':
        return { type: 'file', root: this.path(raw.root) };
    }
  }
}

async function readYaml(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : (err as Error).message;
    throw new ConfigError(`config file ${file} ${why}`, file, undefined, { cause: err });
  }
  try {
    return parseYaml(text) ?? {};
  } catch (err) {
    // The parser's message quotes the offending source lines, which may hold a pasted secret: keep
    // only its first line (what is wrong, at which line and column).
    const first = (err as Error).message.split('\n')[0]?.replace(/:$/, '');
    throw new ConfigError(`${file}: not valid YAML: ${first}`, file);
  }
}

function validate<T extends z.ZodType>(schema: T, input: unknown, file: string): z.infer<T> {
  const result = schema.safeParse(input);
  if (!result.success) {
    const lines = formatIssues(result.error, input);
    const first = result.error.issues[0];
    throw new ConfigError(`${file}: ${lines.join('; ')}`, file, first?.path.map(String).join('.'));
  }
  return result.data;
}

/** Loads and validates an agent config; relative paths are resolved against the config file's directory. */
export async function loadAgentConfig(file: string, env: Env = process.env): Promise<AgentConfig> {
  const path = resolve(file);
  return resolveAgentConfig(await readYaml(path), path, env);
}

export async function resolveAgentConfig(input: unknown, file: string, env: Env = process.env): Promise<AgentConfig> {
  const raw: RawAgent = validate(agentSchema, input, file);
  const r = new Resolver(file, env);
  const password = await r.secret('vsphere.passwordFile', raw.vsphere.passwordFile, 'FERRY_VSPHERE_PASSWORD');
  if (!password && raw.vsphere.passwordFile === undefined) {
    r.problem('vsphere.passwordFile', 'no vCenter password: set vsphere.passwordFile or FERRY_VSPHERE_PASSWORD');
  }
  const nats = await r.nats(raw.nats);
  const store = await r.store(raw.store);
  r.throwIfProblems();
  return {
    file,
    site: raw.site,
    zone: raw.zone,
    labels: raw.labels,
    nats,
    store,
    vsphere: {
      url: raw.vsphere.url,
      username: raw.vsphere.username,
      password: password as Secret, // set: a missing password is a problem thrown above
      insecure: raw.vsphere.insecure,
      caFile: r.path(raw.vsphere.caFile),
      library: raw.vsphere.library,
      datastore: raw.vsphere.datastore,
      itemName: raw.vsphere.itemName,
      keepAliveMs: raw.vsphere.keepAlive,
    },
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

export async function loadCoordinatorConfig(file: string, env: Env = process.env): Promise<CoordinatorConfig> {
  const path = resolve(file);
  return resolveCoordinatorConfig(await readYaml(path), path, env);
}

export async function resolveCoordinatorConfig(
  input: unknown,
  file: string,
  env: Env = process.env,
): Promise<CoordinatorConfig> {
  const raw: RawCoordinator = validate(coordinatorSchema, input, file);
  const r = new Resolver(file, env);
  const config: CoordinatorConfig = {
    file,
    nats: await r.nats(raw.nats),
    store: await r.store(raw.store),
    signing: { privateKeyFile: r.path(raw.signing.privateKeyFile) },
    jetstream: raw.jetstream,
    discovery: raw.discovery,
    http: {
      listen: raw.http.listen,
      token: await r.secret('http.tokenFile', raw.http.tokenFile, 'FERRY_API_TOKEN'),
      webhookSecret: await r.secret('http.webhookSecretFile', raw.http.webhookSecretFile, 'FERRY_WEBHOOK_SECRET'),
    },
    log: raw.log,
  };
  r.throwIfProblems();
  return config;
}

/** `{name}-{version}` → library item name. */
export function renderItemName(template: string, name: string, version: string): string {
  return template.replaceAll('{name}', name).replaceAll('{version}', version);
}

// Standalone schemas of the zone agent's parts (PULL listener, bandwidth, deploy check).
export * from './zone-parts-config.js';
