import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import {
  type AgentConfig,
  connectNats,
  createStore,
  describeError,
  formatBytes,
  loadTrustedKeys,
  openTopology,
  silentLogger,
  type TargetConfig,
  withTimeout,
} from '@ferry/shared';
import { createLibraryClient, createSiteDeployCheck, targetsOf } from './agent-runtime.js';

export interface CheckResult {
  name: string;
  ok: boolean;
  message: string;
}

/** No probe waits longer than this: a black-holed address would otherwise hang `check` for minutes. */
export const CHECK_PROBE_TIMEOUT_MS = 15_000;

async function check(name: string, fn: () => Promise<string>, timeoutMs: number): Promise<CheckResult> {
  try {
    return { name, ok: true, message: await withTimeout(fn(), timeoutMs, `${name} check`) };
  } catch (err) {
    return { name, ok: false, message: describeError(err).message };
  }
}

/** `ferry-agent check`: tries every dependency of the config and says what is wrong with each. */
export async function runChecks(config: AgentConfig, timeoutMs = CHECK_PROBE_TIMEOUT_MS): Promise<CheckResult[]> {
  return Promise.all([
    check(
      'trust',
      async () => {
        const keys = await loadTrustedKeys(config.trust.publicKeys);
        return `${keys.length} trusted key(s): ${keys.map((k) => k.keyId).join(', ')}`;
      },
      timeoutMs,
    ),
    check(
      'nats',
      async () => {
        const nc = await connectNats(config.nats, {
          name: `ferry-agent check ${config.site}`,
          timeoutMs: 5_000,
          reconnectForever: false,
        });
        try {
          await openTopology(nc).catch((err: unknown) => {
            throw new Error(
              `connected, but ferry's KV buckets are missing or not readable (start the coordinator first): ${describeError(err).message}`,
            );
          });
          return `connected to ${nc.getServer()}, buckets readable`;
        } finally {
          await nc.close();
        }
      },
      timeoutMs,
    ),
    check(
      'store',
      async () => {
        const store = createStore(config.store, silentLogger());
        await store.probe();
        return `${store.description} exists and can be listed`;
      },
      timeoutMs,
    ),
    ...targetsOf(config).map((t) =>
      check(config.targets.length === 1 ? 'vcenter' : `vcenter ${t.site}`, () => checkTarget(t), timeoutMs),
    ),
    // One deploy-check probe per target that has it enabled (`deployCheck`, or `deployCheck <site>`).
    ...targetsOf(config)
      .filter((t) => t.deployCheck.enabled)
      .map((t) =>
        check(
          config.targets.length === 1 ? 'deployCheck' : `deployCheck ${t.site}`,
          async () => {
            const library = await createLibraryClient(t.vsphere, { requestTimeoutMs: 10_000, keepAliveMs: 0 });
            const deploy = await createSiteDeployCheck(t, library, silentLogger(), { requestTimeoutMs: 10_000 });
            return deploy!.probe();
          },
          timeoutMs,
        ),
      ),
    check(
      'cache',
      async () => {
        await mkdir(config.cache.dir, { recursive: true });
        await access(config.cache.dir, constants.W_OK);
        return `${config.cache.dir} writable`;
      },
      timeoutMs,
    ),
    ...bandwidthCheck(config),
  ]);
}

/** Logs in to the target's vCenter and looks for its library. */
async function checkTarget(t: TargetConfig): Promise<string> {
  const library = await createLibraryClient(t.vsphere, { requestTimeoutMs: 10_000, keepAliveMs: 0 });
  try {
    await library.login();
    const id = await library.findLibraryByName(t.vsphere.library);
    const how = t.subscribe ? `subscribed to ${t.subscribe}` : `${t.transfer}`;
    if (id) return `logged in to ${t.vsphere.url}; library ${t.vsphere.library} exists (${how})`;
    return t.subscribe
      ? `logged in to ${t.vsphere.url}; subscribed library ${t.vsphere.library} will be created on ${t.vsphere.datastore} with the first image ${t.subscribe} holds`
      : `logged in to ${t.vsphere.url}; library ${t.vsphere.library} will be created on ${t.vsphere.datastore} (${how})`;
  } finally {
    await library.logout(); // best effort: logs and never throws
  }
}

/** The configured limits as one informational line (none when nothing is limited). */
function bandwidthCheck(config: AgentConfig): Promise<CheckResult>[] {
  const rate = (bytes: number) => `${formatBytes(bytes)}/s`;
  const parts: string[] = [];
  const describe = (scope: string, b: { store?: number; vcenter?: number }) => {
    const limits = [
      ...(b.store === undefined ? [] : [`store ${rate(b.store)}`]),
      ...(b.vcenter === undefined ? [] : [`vcenter ${rate(b.vcenter)}`]),
    ];
    if (limits.length > 0) parts.push(`${scope}: ${limits.join(', ')}`);
  };
  describe('agent', config.bandwidth);
  for (const t of config.targets) describe(t.site, t.bandwidth);
  if (parts.length === 0) return [];
  return [Promise.resolve({ name: 'bandwidth', ok: true, message: `limits ${parts.join('; ')}` })];
}
