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
} from '@ferry/shared';
import { createLibraryClient, createSiteDeployCheck } from './agent-runtime.js';

export interface CheckResult {
  name: string;
  ok: boolean;
  message: string;
}

async function check(name: string, fn: () => Promise<string>): Promise<CheckResult> {
  try {
    return { name, ok: true, message: await fn() };
  } catch (err) {
    return { name, ok: false, message: describeError(err).message };
  }
}

/** `ferry-agent check`: tries every dependency of the config and says what is wrong with each. */
export async function runChecks(config: AgentConfig): Promise<CheckResult[]> {
  return Promise.all([
    check('trust', async () => {
      const keys = await loadTrustedKeys(config.trust.publicKeys);
      return `${keys.length} trusted key(s): ${keys.map((k) => k.keyId).join(', ')}`;
    }),
    check('nats', async () => {
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
    }),
    check('store', async () => {
      const store = createStore(config.store, silentLogger());
      await store.probe();
      return `${store.description} exists and can be listed`;
    }),
    check('vcenter', async () => {
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
    }),
    ...(config.deployCheck.enabled
      ? [
          check('deployCheck', async () => {
            const library = await createLibraryClient(config.vsphere, { requestTimeoutMs: 10_000, keepAliveMs: 0 });
            const deploy = await createSiteDeployCheck(config, library, silentLogger(), { requestTimeoutMs: 10_000 });
            return deploy!.probe();
          }),
        ]
      : []),
    check('cache', async () => {
      await mkdir(config.cache.dir, { recursive: true });
      await access(config.cache.dir, constants.W_OK);
      return `${config.cache.dir} writable`;
    }),
  ]);
}
