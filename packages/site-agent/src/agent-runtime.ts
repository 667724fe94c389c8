import { readFile } from 'node:fs/promises';
import {
  type AgentConfig,
  createStore,
  type Logger,
  loadTrustedKeys,
  type ObjectStore,
  type TrustedKey,
  type VsphereConfig,
} from '@ferry/shared';
import { SiteDeployCheck } from './deploy-check/site-deploy-check.js';
import { VimClient, type VimClientOptions } from './deploy-check/vim-client.js';
import { DownloadCache } from './download-cache.js';
import { ImageImporter } from './image-importer.js';
import { TransferQueues } from './transfer-queues.js';
import { ContentLibraryClient, type ContentLibraryClientOptions } from './vcenter/content-library-client.js';

/** The parts of an agent that every command (import, daemon, reconcile, check) builds from one config. */
export interface AgentRuntime {
  config: AgentConfig;
  log: Logger;
  store: ObjectStore;
  library: ContentLibraryClient;
  cache: DownloadCache;
  queues: TransferQueues;
  importer: ImageImporter;
  trusted: TrustedKey[];
  /** The site's deploy check, when `deployCheck.enabled`. */
  deployCheck?: SiteDeployCheck;
  /** The configured library's id, created on the datastore when missing (cached; `refresh` looks again). */
  libraryId(refresh?: boolean): Promise<string>;
}

/** The vCenter client for a zone's `vsphere` config; the password is revealed only here. */
export async function createLibraryClient(
  vsphere: VsphereConfig,
  overrides: Partial<ContentLibraryClientOptions> = {},
): Promise<ContentLibraryClient> {
  return new ContentLibraryClient({
    url: vsphere.url,
    username: vsphere.username,
    password: vsphere.password.reveal(),
    passwordSource: vsphere.password.source,
    insecure: vsphere.insecure,
    ca: vsphere.caFile ? await readFile(vsphere.caFile) : undefined,
    keepAliveMs: vsphere.keepAliveMs,
    ...overrides,
  });
}

/** A vim25 (SOAP) client with the same vCenter, user, password and CA as the zone's `vsphere` config. */
export async function createVimClient(
  vsphere: VsphereConfig,
  overrides: Partial<VimClientOptions> = {},
): Promise<VimClient> {
  return new VimClient({
    url: vsphere.url,
    username: vsphere.username,
    password: vsphere.password.reveal(),
    insecure: vsphere.insecure,
    ca: vsphere.caFile ? await readFile(vsphere.caFile) : undefined,
    ...overrides,
  });
}

/** The site's deploy check, or undefined when it is not enabled. */
export async function createSiteDeployCheck(
  config: Pick<AgentConfig, 'site' | 'vsphere' | 'deployCheck'>,
  library: ContentLibraryClient,
  log: Logger,
  overrides: Partial<VimClientOptions> = {},
): Promise<SiteDeployCheck | undefined> {
  if (!config.deployCheck.enabled) return undefined;
  const vim = await createVimClient(config.vsphere, { logger: log.child({ component: 'vim25' }), ...overrides });
  return new SiteDeployCheck({ site: config.site, settings: config.deployCheck, library, vim, logger: log });
}

export async function createAgentRuntime(config: AgentConfig, log: Logger): Promise<AgentRuntime> {
  for (const [what, insecure] of [
    ['vsphere', config.vsphere.insecure],
    ['store', 'insecure' in config.store && config.store.insecure],
    ['nats', config.nats.tls?.insecure ?? false],
  ] as const) {
    if (insecure) log.warn({ what }, `${what}.insecure is true: TLS certificates are not verified`);
  }
  const store = createStore(config.store, log.child({ component: 'store' }));
  // The client names its own component (content-library): a second one here would repeat the key.
  const library = await createLibraryClient(config.vsphere, { logger: log });
  const cache = new DownloadCache({
    dir: config.cache.dir,
    maxBytes: config.cache.maxBytes,
    logger: log.child({ component: 'cache' }),
  });
  const queues = new TransferQueues(config.concurrency);
  let libraryIdPromise: Promise<string> | undefined;
  const libraryId = (refresh = false) => {
    if (refresh) libraryIdPromise = undefined;
    libraryIdPromise ??= library.ensureLibrary(config.vsphere.library, config.vsphere.datastore).catch((err) => {
      libraryIdPromise = undefined; // try again next time (vCenter may be back)
      throw err;
    });
    return libraryIdPromise;
  };
  const importer = new ImageImporter({
    library,
    libraryId,
    store,
    cache,
    queues,
    itemNameTemplate: config.vsphere.itemName,
    logger: log,
  });
  const trusted = await loadTrustedKeys(config.trust.publicKeys);
  const deployCheck = await createSiteDeployCheck(config, library, log);
  return {
    config,
    log,
    store,
    library,
    cache,
    queues,
    importer,
    trusted,
    libraryId,
    ...(deployCheck ? { deployCheck } : {}),
  };
}
