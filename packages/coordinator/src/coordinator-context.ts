import {
  Catalog,
  ConfigError,
  type CoordinatorConfig,
  connectNats,
  type Env,
  EventBus,
  ensureTopology,
  type Logger,
  loadCoordinatorConfig,
  loadSigningKey,
  type ObjectStore,
  type SigningKey,
  silentLogger,
  type Topology,
} from '@ferry/shared';
import { openStore } from './publish/store-factory.js';

/** The coordinator's side of NATS: the KV buckets (catalog, status, sites, rollouts), the catalog on them, the events. */
export interface CoordinatorNats {
  topology: Topology;
  catalog: Catalog;
  bus: EventBus;
}

/** Everything a coordinator command talks to: NATS, the store, the signing key. The connection is its own (close). */
export interface CoordinatorContext extends CoordinatorNats {
  config: CoordinatorConfig;
  store: ObjectStore;
  logger: Logger;
  /** Loaded on first use: read-only commands (status, sites) do not need the private key. */
  signingKey(): Promise<SigningKey>;
  close(): Promise<void>;
}

export interface OpenContextOptions {
  /** NATS client name shown by the server. */
  clientName?: string;
  logger?: Logger;
  /** Daemon: reconnect forever. CLI: fail fast. */
  reconnectForever?: boolean;
}

/** Default config file: `$FERRY_CONFIG`, else `./ferry.yaml`. */
export function defaultConfigFile(env: Env): string {
  return env.FERRY_CONFIG || 'ferry.yaml';
}

export async function openContext(
  config: CoordinatorConfig,
  options: OpenContextOptions = {},
): Promise<CoordinatorContext> {
  const logger = options.logger ?? silentLogger();
  const nc = await connectNats(config.nats, {
    name: options.clientName ?? 'ferry-cli',
    reconnectForever: options.reconnectForever ?? false,
    logger,
  });
  try {
    const topology = await ensureTopology(nc, { replicas: config.jetstream.replicas });
    const store = openStore(config.store, logger);
    let key: Promise<SigningKey> | undefined;
    return {
      config,
      topology,
      catalog: new Catalog(topology.catalog),
      bus: new EventBus(nc),
      store,
      logger,
      signingKey: () => {
        const file = config.signing?.privateKeyFile;
        if (file === undefined) {
          return Promise.reject(
            new ConfigError(
              `${config.file}: signing.privateKeyFile is not set: this command signs manifests; add "signing: { privateKeyFile: <path> }" (ferry keygen creates one)`,
              config.file,
              'signing.privateKeyFile',
            ),
          );
        }
        key ??= loadSigningKey(file);
        return key;
      },
      close: async () => {
        await nc.drain().catch(() => nc.close());
      },
    };
  } catch (err) {
    await nc.close().catch(() => undefined);
    throw err;
  }
}

/** Loads the coordinator config file and opens a context on it. */
export async function openContextFromFile(
  file: string,
  env: Env,
  options: OpenContextOptions = {},
): Promise<CoordinatorContext> {
  const config = await loadCoordinatorConfig(file, env);
  return openContext(config, options);
}
