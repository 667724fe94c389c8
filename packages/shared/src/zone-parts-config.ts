/**
 * Config schemas of a zone agent's parts: the PULL listener, bandwidth limits and the deploy
 * check. Standalone (not yet part of the agent schema): the zone agent wires them per agent
 * and per target. Each default is written here once.
 */
import { z } from 'zod';
import { duration, httpUrl, listen, rate } from './config-fields.js';

/** Default lifetime of a PULL session's URLs: long enough for vCenter to fetch a large disk. */
export const DEFAULT_PULL_TTL_MS = 6 * 3_600_000;

/**
 * `pull: { listen, certFile, keyFile, url }`: the agent's HTTPS listener that vCenter GETs
 * OVA entries from. Without certFile/keyFile a self-signed certificate is made at start (its
 * SHA-1 thumbprint is what vCenter is told to expect). `url` is how vCenter reaches the
 * listener (default: https://<listen>).
 */
export const pullConfigSchema = z
  .strictObject({
    /** @default 0.0.0.0:9465 */
    listen: listen.default('0.0.0.0:9465'),
    certFile: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
    /** @default https://<listen> */
    url: httpUrl
      .refine((v) => new URL(v).protocol === 'https:', 'expected an https:// URL (vCenter pulls over TLS)')
      .optional(),
    /** How long a PULL session's URLs stay valid. @default 6h */
    ttl: duration.default(DEFAULT_PULL_TTL_MS),
  })
  .refine((v) => (v.certFile === undefined) === (v.keyFile === undefined), {
    message: 'give both certFile and keyFile, or neither (a self-signed certificate is made at start)',
  });
export type PullConfig = z.infer<typeof pullConfigSchema>;

/** `bandwidth: { store: 400MiB/s, vcenter: 200MiB/s }`, each optional (unlimited when absent). */
export const bandwidthConfigSchema = z.strictObject({
  /** Downloads from the zone's store. */
  store: rate.optional(),
  /** Uploads to vCenter (PUSH) and bytes vCenter pulls from the agent (PULL). */
  vcenter: rate.optional(),
});
export type BandwidthConfig = z.infer<typeof bandwidthConfigSchema>;

export const DEFAULT_DEPLOY_CHECK_TIMEOUT_MS = 10 * 60_000;

/** `deployCheck: { enabled, resourcePool, folder, network, datastore, timeout }` (morefs). */
export const deployCheckConfigSchema = z
  .strictObject({
    /** @default false */
    enabled: z.boolean().default(false),
    /** Resource pool moref value, e.g. resgroup-8. */
    resourcePool: z.string().min(1).optional(),
    /** VM folder moref value, e.g. group-v3 (default: the datacenter's VM folder). */
    folder: z.string().min(1).optional(),
    /** Network moref value the OVF's networks are mapped to, e.g. network-7. */
    network: z.string().min(1).optional(),
    /** Datastore moref value for the check VM (default: vCenter's choice). */
    datastore: z.string().min(1).optional(),
    /** How long the check VM may take to deploy and power on. @default 10m */
    timeout: duration.default(DEFAULT_DEPLOY_CHECK_TIMEOUT_MS),
  })
  .refine((v) => !v.enabled || v.resourcePool !== undefined, {
    message: 'deployCheck.enabled needs deployCheck.resourcePool (a resource pool moref like resgroup-8)',
    path: ['resourcePool'],
  });
export type DeployCheckConfig = z.infer<typeof deployCheckConfigSchema>;

/** The deploy check as the agent uses it (one block, so a zone agent can hold one per target). */
export interface DeployCheckSettings {
  enabled: boolean;
  resourcePool?: string;
  folder?: string;
  network?: string;
  datastore?: string;
  timeoutMs: number;
}

export function resolveDeployCheck(raw: DeployCheckConfig): DeployCheckSettings {
  const { timeout, ...rest } = raw;
  return { ...rest, timeoutMs: timeout };
}
