/**
 * Agent and coordinator config in three stages (as Temporal's worker options):
 *
 * 1. options (`AgentOptions`): what the YAML may say; every defaulted key is optional;
 * 2. with defaults (`AgentOptionsWithDefaults`): the parsed schema, every defaulted key present
 *    (durations already in ms and sizes in bytes: the field parsers convert them);
 * 3. compiled (`AgentConfig`, config-compile.ts): secrets read, paths absolute; what constructors take.
 *
 * Each default is written once, here, with a `@default` in the option's doc comment. Sections use
 * `.prefault({})`: an absent section is parsed as `{}`, so its fields' own defaults apply (a
 * `.default({...})` would have to repeat them). Code that needs a default without a config
 * (library use) imports the DEFAULT_* constants at the end, which are read from this schema.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import cron from 'node-cron';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import {
  type AgentConfig,
  type CoordinatorConfig,
  compileAgentConfig,
  compileCoordinatorConfig,
  type Env,
} from './config-compile.js';
import { duration, httpUrl, listen, size } from './config-fields.js';
import { ConfigError, fsReason } from './errors.js';
import { targetSchema } from './manifest.js';
import { isSiteId, SITE_ID_RULE } from './names.js';
import { ROLLOUT_GATES, waveNameSchema } from './rollout.js';
import { formatIssues } from './schema-error.js';
import { deployCheckConfigSchema } from './zone-parts-config.js';

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
  /** Skip verification of the server's certificate (tests, self-signed without a CA file). @default false */
  insecure: z.boolean().default(false),
});

const natsSchema = z.strictObject({
  servers: z.array(natsUrl).min(1),
  /** Client name shown by the server. @default the process's, e.g. "ferry-agent dc1-corp" */
  name: z.string().optional(),
  credsFile: z.string().optional(),
  user: z.string().optional(),
  passwordFile: z.string().optional(),
  password: noInlineSecret('passwordFile or FERRY_NATS_PASSWORD'),
  tokenFile: z.string().optional(),
  token: noInlineSecret('tokenFile or FERRY_NATS_TOKEN'),
  tls: tlsSchema.optional(),
  /**
   * Subject prefix of this client's reply inboxes. Give each agent its own
   * (e.g. `_INBOX.ferry-agent-dc1-corp`) so its NATS user may subscribe to its replies only.
   * @default "_INBOX" (the NATS client's)
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
    /** S3-compatible endpoint. @default AWS's endpoint for `region` */
    endpoint: httpUrl.optional(),
    bucket: z.string().min(3).max(63),
    /** @default "us-east-1" */
    region: z.string().default('us-east-1'),
    /** `endpoint/bucket/key` URLs instead of `bucket.endpoint/key` (MinIO, most on-premises stores). @default false */
    forcePathStyle: z.boolean().default(false),
    prefix: z.string().optional(),
    accessKeyIdFile: z.string().optional(),
    secretAccessKeyFile: z.string().optional(),
    secretAccessKey: noInlineSecret('secretAccessKeyFile or AWS_SECRET_ACCESS_KEY'),
    caFile: z.string().optional(),
    /** @default false */
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
    /** @default false */
    insecure: z.boolean().default(false),
  }),
  z.strictObject({ type: z.literal('file'), root: z.string().min(1) }),
]);

const vsphereSchema = z.strictObject({
  url: httpUrl,
  username: z.string().min(1),
  passwordFile: z.string().optional(),
  password: noInlineSecret('passwordFile or FERRY_VSPHERE_PASSWORD'),
  /** Skip verification of vCenter's certificate. @default false */
  insecure: z.boolean().default(false),
  caFile: z.string().optional(),
  library: z.string().min(1),
  datastore: z.string().min(1),
  /** Library item name; `{name}` and `{version}` are replaced. @default "{name}-{version}" */
  itemName: z
    .string()
    .default('{name}-{version}')
    .refine((v) => v.includes('{name}') && v.includes('{version}'), 'must contain {name} and {version}'),
  /** How often the REST session is checked and an open update session extended during an upload. @default 5m */
  keepAlive: duration.prefault('5m'),
});

const logSchema = z.strictObject({
  /** @default info */
  level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
});

const agentSchema = z.strictObject({
  site: siteId,
  zone: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'expected letters, digits, _ - .'),
  /** Matched by `label:<k>=<v>` targets. @default {} */
  labels: z.record(z.string(), z.string()).default({}),
  nats: natsSchema,
  store: storeSchema,
  vsphere: vsphereSchema,
  cache: z.strictObject({
    dir: z.string().min(1),
    /** Bytes the cache may hold (verified and partial downloads). @default 50GiB */
    maxBytes: size.prefault('50GiB'),
  }),
  concurrency: z
    .strictObject({
      /** Downloads from the store at once. @default 2 */
      downloads: z.number().int().min(1).max(64).default(2),
      /** Uploads to vCenter at once. @default 1 */
      imports: z.number().int().min(1).max(64).default(1),
    })
    .prefault({}),
  reconcile: z
    .strictObject({
      /** Cron expression of the reconcile pass. @default "*\/15 * * * *" */
      schedule: cronSchedule.default('*/15 * * * *'),
      /** @default UTC */
      timezone: timezone.default('UTC'),
      /** Each pass starts up to this much later, so sites do not hit the store at once. @default 1m */
      jitter: duration.prefault('1m'),
      /** Delete items beyond retention and retired versions. @default true */
      prune: z.boolean().default(true),
      /** @default true */
      enabled: z.boolean().default(true),
    })
    .prefault({}),
  retention: z
    .strictObject({
      /** Newest non-retired versions of each image kept in the library. @default 3 */
      keepVersions: z.number().int().min(1).default(3),
    })
    .prefault({}),
  trust: z.strictObject({ publicKeys: z.array(z.string()).min(1) }),
  http: z
    .strictObject({
      /** Address of /healthz, /readyz and /metrics. @default 127.0.0.1:9464 */
      listen: listen.default('127.0.0.1:9464'),
    })
    .prefault({}),
  jobs: z
    .strictObject({
      /** Attempts of one import before it stays failed. @default 8 */
      maxAttempts: z.number().int().min(1).default(8),
      /** First retry delay; it doubles per attempt (with jitter). @default 10s */
      retryBase: duration.prefault('10s'),
      /** Longest retry delay. @default 15m */
      retryMax: duration.prefault('15m'),
      /** On stop, how long running imports may finish before they are failed cleanly. @default 60s */
      shutdownGrace: duration.prefault('60s'),
    })
    .prefault({}),
  /** After each import, deploy a VM from the item and check it runs (off unless enabled). */
  deployCheck: deployCheckConfigSchema.prefault({}),
  log: logSchema.prefault({}),
});

const coordinatorSchema = z.strictObject({
  nats: natsSchema,
  store: storeSchema,
  /** Optional: only commands that sign (publish, republish, retire, the daemon) need it. */
  signing: z.strictObject({ privateKeyFile: z.string().min(1) }).optional(),
  jetstream: z
    .strictObject({
      /** Replicas of FERRY_EVENTS and the buckets when the coordinator creates them (3 on a 3-node hub). @default 1 */
      replicas: z.number().int().min(1).max(5).default(1),
    })
    .prefault({}),
  discovery: z
    .strictObject({
      /** Cron expression (UTC) of the store discovery pass. @default "*\/5 * * * *" */
      schedule: cronSchedule.default('*/5 * * * *'),
      /** Store prefix to list. @default "" (the whole store) */
      prefix: z.string().default(''),
      /** @default true */
      enabled: z.boolean().default(true),
      /** Targets of OVAs registered by discovery. @default ["*"] */
      targets: z.array(z.string()).default(['*']),
    })
    .prefault({}),
  http: z
    .strictObject({
      /** Address of the API, the status page and the webhook. @default 127.0.0.1:9470 */
      listen: listen.default('127.0.0.1:9470'),
      tokenFile: z.string().optional(),
      /** Who `POST /api/approve` records as the approver (`api:<tokenName>`). @default api */
      tokenName: z
        .string()
        .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'expected 1-64 of A-Z a-z 0-9 _ . -')
        .default('api'),
      webhookSecretFile: z.string().optional(),
    })
    .prefault({}),
  /** Default rollout of every publish (flags on `ferry publish` override it); no waves: all sites at once. */
  rollout: z
    .strictObject({
      /** `approval`: no wave is released until `ferry approve`. @default none */
      gate: z.enum(ROLLOUT_GATES).default('none'),
      /** Waves in order; a site is in the first wave whose targets select it (else the last). @default [] */
      waves: z
        .array(
          z.strictObject({
            name: waveNameSchema,
            targets: z.array(targetSchema).min(1),
            /** How long every site of the wave stays ready before the next wave. @default 0 */
            soak: duration.prefault(0),
          }),
        )
        .default([])
        .refine((w) => new Set(w.map((x) => x.name)).size === w.length, 'wave names must be unique'),
    })
    .prefault({}),
  log: logSchema.prefault({}),
});

/** Stage 1: an agent config as written (defaulted keys optional, durations and sizes as text). */
export type AgentOptions = z.input<typeof agentSchema>;
/** Stage 2: every defaulted key present; durations in ms, sizes in bytes. */
export type AgentOptionsWithDefaults = z.output<typeof agentSchema>;
export type CoordinatorOptions = z.input<typeof coordinatorSchema>;
export type CoordinatorOptionsWithDefaults = z.output<typeof coordinatorSchema>;

async function readYaml(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(
      `config file ${file} ${fsReason(err)}: give an existing file with --config`,
      file,
      undefined,
      { cause: err },
    );
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

/** Stage 1 → 2: validates agent options (parsed YAML) and fills in the defaults; `file` names it in errors. */
export function agentOptionsWithDefaults(input: unknown, file: string): AgentOptionsWithDefaults {
  return validate(agentSchema, input, file);
}

/** Stage 1 → 2 for the coordinator. */
export function coordinatorOptionsWithDefaults(input: unknown, file: string): CoordinatorOptionsWithDefaults {
  return validate(coordinatorSchema, input, file);
}

/** Loads and validates an agent config; relative paths are resolved against the config file's directory. */
export async function loadAgentConfig(file: string, env: Env = process.env): Promise<AgentConfig> {
  const path = resolve(file);
  return resolveAgentConfig(await readYaml(path), path, env);
}

/** All three stages: parsed YAML → AgentConfig. */
export async function resolveAgentConfig(input: unknown, file: string, env: Env = process.env): Promise<AgentConfig> {
  return compileAgentConfig(agentOptionsWithDefaults(input, file), file, env);
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
  return compileCoordinatorConfig(coordinatorOptionsWithDefaults(input, file), file, env);
}

/** `{name}-{version}` → library item name. */
export function renderItemName(template: string, name: string, version: string): string {
  return template.replaceAll('{name}', name).replaceAll('{version}', version);
}

// ---- defaults for library use: read from the schema above, so each is still written once ----

/** `vsphere.keepAlive`'s default, for a ContentLibraryClient made without a config. */
export const DEFAULT_VSPHERE_KEEP_ALIVE_MS: number = vsphereSchema.shape.keepAlive.parse(undefined);
/** `jetstream.replicas`'s default, for processes that create the topology without a coordinator config. */
export const DEFAULT_JETSTREAM_REPLICAS: number = coordinatorSchema.shape.jetstream.parse(undefined).replicas;
/** `log.level`'s default, for loggers made without a config. */
export const DEFAULT_LOG_LEVEL: string = logSchema.shape.level.parse(undefined);

export type {
  AgentConfig,
  CoordinatorConfig,
  Env,
  NatsConfig,
  StoreConfig,
  TlsFiles,
  VsphereConfig,
} from './config-compile.js';
export { compileAgentConfig, compileCoordinatorConfig } from './config-compile.js';
// Standalone schemas of the zone agent's parts (PULL listener, bandwidth, deploy check).
export * from './zone-parts-config.js';
