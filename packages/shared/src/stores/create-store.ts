import type { StoreConfig } from '../config.js';
import type { Logger } from '../logger.js';
import type { ObjectStore } from '../object-store.js';
import { ArtifactoryStore } from './artifactory-store.js';
import { FileStore } from './file-store.js';
import { S3Store } from './s3-store.js';

/** The store a zone's config names; secrets are revealed only here, into the client. */
export function createStore(config: StoreConfig, logger?: Logger): ObjectStore {
  switch (config.type) {
    case 's3':
      // The pinned SDK supports Node 20; its warning about future releases would only
      // clutter operators' terminals and logs.
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
      return new S3Store({
        endpoint: config.endpoint,
        bucket: config.bucket,
        region: config.region,
        forcePathStyle: config.forcePathStyle,
        prefix: config.prefix,
        accessKeyId: config.accessKeyId?.reveal(),
        secretAccessKey: config.secretAccessKey?.reveal(),
        caFile: config.caFile,
        insecure: config.insecure,
        logger,
      });
    case 'artifactory':
      return new ArtifactoryStore({
        url: config.url,
        repo: config.repo,
        token: config.token?.reveal(),
        apiKey: config.apiKey?.reveal(),
        caFile: config.caFile,
        insecure: config.insecure,
        logger,
      });
    case 'file':
      return new FileStore({ root: config.root });
  }
}
