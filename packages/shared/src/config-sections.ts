/**
 * The sections of the agent and coordinator schemas that both use (NATS, store, vCenter, log)
 * and the field rules they share. Each default is written once, here or in config.ts.
 */
import cron from 'node-cron';
import { z } from 'zod';
import { duration, httpUrl } from './config-fields.js';
import { isSiteId, SITE_ID_RULE } from './names.js';

export const natsUrl = z.string().refine((v) => {
  try {
    const u = new URL(v.includes('://') ? v : `nats://${v}`);
    return ['nats:', 'tls:', 'ws:', 'wss:'].includes(u.protocol) && u.hostname !== '';
  } catch {
    return false;
  }
}, 'expected a NATS URL like nats://host:4222');

export const siteId = z.string().refine(isSiteId, SITE_ID_RULE);

/** A node-cron expression: a typo is refused at start, not found out when no pass ever runs. */
export const cronSchedule = z
  .string()
  .refine((v) => cron.validate(v), 'expected a cron expression with 5 or 6 fields, e.g. "*/15 * * * *"');

export const timezone = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'expected an IANA time zone, e.g. UTC or Europe/Berlin');

/** Secrets are never inline in YAML: refuse with a message that says where to put them. */
export function noInlineSecret(instead: string) {
  return z
    .unknown()
    .optional()
    .superRefine((v, ctx) => {
      if (v !== undefined) ctx.addIssue({ code: 'custom', message: `inline secrets are not accepted: use ${instead}` });
    });
}

export const tlsSchema = z.strictObject({
  caFile: z.string().optional(),
  certFile: z.string().optional(),
  keyFile: z.string().optional(),
  /** Skip verification of the server's certificate (tests, self-signed without a CA file). @default false */
  insecure: z.boolean().default(false),
});

export const natsSchema = z.strictObject({
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

export const storeSchema = z.discriminatedUnion('type', [
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

export const vsphereSchema = z.strictObject({
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

export const logSchema = z.strictObject({
  /** @default info */
  level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
});
