import type { StoreConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { ObjectStore } from '../object-store.js';
import { Secret } from '../secret.js';
import { ArtifactoryStore } from './artifactory-store.js';
import { FileStore } from './file-store.js';
import { S3Store } from './s3-store.js';

type Revealed<T> = { [K in keyof T]: Secret extends T[K] ? Exclude<T[K], Secret> | string : T[K] };

/** A store config as its client's options: the same fields, `type` dropped, each Secret revealed. */
function clientOptions<C extends { type: string }>({ type: _type, ...fields }: C): Revealed<Omit<C, 'type'>> {
  return Object.fromEntries(
    Object.entries(fields).map(([key, value]) => [key, value instanceof Secret ? value.reveal() : value]),
  ) as Revealed<Omit<C, 'type'>>;
}

/** The store a zone's config names; secrets are revealed only here, into the client. */
export function createStore(config: StoreConfig, logger?: Logger): ObjectStore {
  switch (config.type) {
    case 's3':
      // The pinned SDK supports Node 20; its warning about future releases would only
      // clutter operators' terminals and logs.
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
      return new S3Store({ ...clientOptions(config), logger });
    case 'artifactory':
      return new ArtifactoryStore({ ...clientOptions(config), logger });
    case 'file':
      return new FileStore({ root: config.root });
  }
}
