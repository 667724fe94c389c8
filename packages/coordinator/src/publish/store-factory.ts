import { createStore, type Logger, type ObjectStore, type StoreConfig } from '@ferry/shared';

/** The coordinator's store, from the `store:` section of its config (S3, Artifactory or a directory). */
export function openStore(config: StoreConfig, logger?: Logger): ObjectStore {
  return createStore(config, logger);
}
