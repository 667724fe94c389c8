/**
 * Agent and coordinator config in three stages (as Temporal's worker options):
 *
 * 1. options (`AgentOptions`): what the YAML may say; every defaulted key is optional;
 * 2. with defaults (`AgentOptionsWithDefaults`): the parsed schema, every defaulted key present
 *    (durations already in ms and sizes in bytes: the field parsers convert them);
 * 3. compiled (`AgentConfig`, config-compile.ts): secrets read, paths absolute; what constructors take.
 *
 * Each default is written once, with a `@default` in the option's doc comment: here, in
 * config-sections.ts (NATS, store, vCenter, log) or config-targets.ts (a zone's targets). Sections use
 * `.prefault({})`: an absent section is parsed as `{}`, so its fields' own defaults apply (a
 * `.default({...})` would have to repeat them). Code that needs a default without a config
 * (library use) imports the DEFAULT_* constants at the end, which are read from this schema.
 */
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import {
  type AgentConfig,
  type CoordinatorConfig,
  compileAgentConfig,
  compileCoordinatorConfig,
  type Env,
} from './config-compile.js';
import { duration, listen, size } from './config-fields.js';
import {
  cronSchedule,
  logSchema,
  natsSchema,
  siteId,
  storeSchema,
  timezone,
  vsphereSchema,
} from './config-sections.js';
import { checkTargets, zoneTargetSchema } from './config-targets.js';
import { ConfigError, fsReason } from './errors.js';
import { targetSchema } from './manifest.js';
import { ROLLOUT_GATES, waveNameSchema } from './rollout.js';
import { formatIssues } from './schema-error.js';
import { bandwidthConfigSchema, deployCheckConfigSchema, pullConfigSchema } from './zone-parts-config.js';

const agentSchema = z
  .strictObject({
    /** Agent id (names its heartbeats and NATS client). @default the single target's site */
    agent: siteId.optional(),
    /** The single-target form: this site with the top-level `vsphere`. Or list `targets`. */
    site: siteId.optional(),
    zone: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'expected letters, digits, _ - .'),
    /** Matched by `label:<k>=<v>` targets. @default {} */
    labels: z.record(z.string(), z.string()).default({}),
    nats: natsSchema,
    store: storeSchema,
    vsphere: vsphereSchema.optional(),
    /** A zone agent's Content Libraries (instead of `site` + `vsphere`). */
    targets: z.array(zoneTargetSchema).min(1).optional(),
    /** The HTTPS listener vCenter pulls from (needed by `transfer: pull` targets). */
    pull: pullConfigSchema.optional(),
    /** Limits shared by the whole zone (each unlimited when absent). @default {} */
    bandwidth: bandwidthConfigSchema.prefault({}),
    cache: z.strictObject({
      dir: z.string().min(1),
      /** Bytes the cache may hold (verified and partial downloads). @default 50GiB */
      maxBytes: size.prefault('50GiB'),
    }),
    concurrency: z
      .strictObject({
        /** Downloads from the store at once. @default 2 */
        downloads: z.number().int().min(1).max(64).default(2),
        /** Uploads to vCenter at once, over every target of the zone. @default 1 */
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
    /**
     * After each import, deploy a VM from the item and check it runs (off unless enabled). For
     * every target; a target's own `deployCheck` replaces it.
     */
    deployCheck: deployCheckConfigSchema.prefault({}),
    log: logSchema.prefault({}),
  })
  .superRefine(checkTargets);

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
  TargetConfig,
  TlsFiles,
  VsphereConfig,
} from './config-compile.js';
export { compileAgentConfig, compileCoordinatorConfig } from './config-compile.js';
// Standalone schemas of the zone agent's parts (PULL listener, bandwidth, deploy check).
export * from './zone-parts-config.js';
