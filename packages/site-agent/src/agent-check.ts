import { constants } from 'node:fs';
import { access, mkdir } from 'node:fs/promises';
import {
  type AgentConfig,
  connectNats,
  createStore,
  describeError,
  loadTrustedKeys,
  openTopology,
  silentLogger,
  withTimeout,
} from '@ferry/shared';
import { createLibraryClient, createSiteDeployCheck } from './agent-runtime.js';

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
    check(
      'vcenter',
      async () => {
        const library = await createLibraryClient(config.vsphere, { requestTimeoutMs: 10_000, keepAliveMs: 0 });
        try {
          await library.login();
          const id = await library.findLibraryByName(config.vsphere.library);
          return id
            ? `logged in to ${config.vsphere.url}; library ${config.vsphere.library} exists`
            : `logged in to ${config.vsphere.url}; library ${config.vsphere.library} will be created on ${config.vsphere.datastore}`;
        } finally {
          await library.logout(); // best effort: logs and never throws
        }
      },
      timeoutMs,
    ),
    ...(config.deployCheck.enabled
      ? [
          check(
            'deployCheck',
            async () => {
              const library = await createLibraryClient(config.vsphere, { requestTimeoutMs: 10_000, keepAliveMs: 0 });
              const deploy = await createSiteDeployCheck(config, library, silentLogger(), { requestTimeoutMs: 10_000 });
              return deploy!.probe();
            },
            timeoutMs,
          ),
        ]
      : []),
    check(
      'cache',
      async () => {
        await mkdir(config.cache.dir, { recursive: true });
        await access(config.cache.dir, constants.W_OK);
        return `${config.cache.dir} writable`;
      },
      timeoutMs,
    ),
  ]);
}
