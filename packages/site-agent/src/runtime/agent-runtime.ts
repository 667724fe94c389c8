import { readFile } from 'node:fs/promises';
import {
  type AgentConfig,
  createStore,
  type Logger,
  loadTrustedKeys,
  type ObjectStore,
  type SiteIdentity,
  type TargetConfig,
  type TrustedKey,
  type VsphereConfig,
} from '@ferry/shared';
import PQueue from 'p-queue';
import { SiteDeployCheck } from '../deploy-check/site-deploy-check.js';
import { VimClient, type VimClientOptions } from '../deploy-check/vim-client.js';
import type { JobImporter } from '../jobs/job-runner.js';
import { DownloadCache } from '../transfer/download-cache.js';
import { ImageImporter, type ImageImporterOptions } from '../transfer/image-importer.js';
import { OvaProofs } from '../transfer/ova-proofs.js';
import { PullImport } from '../transfer/pull-import.js';
import type { PullServer } from '../transfer/pull-server.js';
import { SubscribedImporter } from '../transfer/subscribed-importer.js';
import { TokenBucket } from '../transfer/token-bucket.js';
import { TransferQueues } from '../transfer/transfer-queues.js';
import { ContentLibraryClient, type ContentLibraryClientOptions } from '../vcenter/content-library-client.js';

/** One Content Library of the zone: its site, vCenter client and how its jobs import. */
export interface TargetRuntime {
  config: TargetConfig;
  identity: SiteIdentity;
  library: ContentLibraryClient;
  /** The library's id (created when missing; a subscribe target's once ferry subscribed it). */
  libraryId(refresh?: boolean): Promise<string>;
  /** Item names and lookups in this target's library; the PUSH/PULL importer of the target. */
  importer: ImageImporter;
  /** What the target's jobs run: the importer, or the subscription sync of a subscribe target. */
  jobImporter: JobImporter;
  /** The target's deploy check, when its `deployCheck.enabled`. */
  deployCheck?: SiteDeployCheck;
}

/** The parts of an agent that every command (import, daemon, reconcile, check) builds from one config. */
export interface AgentRuntime {
  config: AgentConfig;
  log: Logger;
  store: ObjectStore;
  cache: DownloadCache;
  /** OVA proofs shared by the targets, like the cache. */
  proofs: OvaProofs;
  queues: TransferQueues;
  trusted: TrustedKey[];
  /** Every target of the zone, in config order. */
  targets: TargetRuntime[];
  /** The agent-wide limits (`bandwidth`), shared by every transfer of the zone. */
  buckets: { store?: TokenBucket; vcenter?: TokenBucket };
  /** The PULL listener, once the agent has started it (`transfer: pull` targets use it). */
  pullServer: PullServer | undefined;
  /** The first target's (the single-target form's) client, importer and library id. */
  library: ContentLibraryClient;
  importer: ImageImporter;
  /** The first target's deploy check, when enabled (each target has its own). */
  deployCheck?: SiteDeployCheck;
  libraryId(refresh?: boolean): Promise<string>;
}

/** What both vCenter clients (REST and vim25) log in with; the password is revealed only here. */
async function vcenterLogin(vsphere: VsphereConfig) {
  return {
    url: vsphere.url,
    username: vsphere.username,
    password: vsphere.password.reveal(),
    insecure: vsphere.insecure,
    ca: vsphere.caFile ? await readFile(vsphere.caFile) : undefined,
  };
}

/** The vCenter (REST) client for a zone's `vsphere` config. */
export async function createLibraryClient(
  vsphere: VsphereConfig,
  overrides: Partial<ContentLibraryClientOptions> = {},
): Promise<ContentLibraryClient> {
  return new ContentLibraryClient({
    ...(await vcenterLogin(vsphere)),
    passwordSource: vsphere.password.source,
    keepAliveMs: vsphere.keepAliveMs,
    ...overrides,
  });
}

/**
 * The targets to serve. In the single-target form the top-level `site` and `vsphere` are the
 * target's, and win (a caller may have adjusted them, e.g. a test pointing at another vCenter).
 */
export function targetsOf(config: AgentConfig): TargetConfig[] {
  const [only, ...more] = config.targets;
  if (!only || more.length > 0) return config.targets;
  return [{ ...only, site: config.site, vsphere: config.vsphere, deployCheck: config.deployCheck }];
}

/**
 * The logger of one target's work. A single-target agent's logger already names its site (the
 * CLI's); a zone agent's names the agent, and each target's records add their site.
 */
export function targetLogger(log: Logger, config: Pick<AgentConfig, 'targets'>, site: string): Logger {
  return config.targets.length === 1 ? log : log.child({ site });
}

/** An optional rate as a bucket. */
function bucketOf(rate: number | undefined): TokenBucket | undefined {
  return rate === undefined ? undefined : new TokenBucket(rate);
}

/** A vim25 (SOAP) client with the same vCenter, user, password and CA as the zone's `vsphere` config. */
export async function createVimClient(
  vsphere: VsphereConfig,
  overrides: Partial<VimClientOptions> = {},
): Promise<VimClient> {
  return new VimClient({ ...(await vcenterLogin(vsphere)), ...overrides });
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
  const targets = targetsOf(config);
  const insecure: Array<[string, boolean]> = [
    ...targets.map((t, i): [string, boolean] => [
      config.targets.length === 1 ? 'vsphere' : `targets.${i}.vsphere (${t.site})`,
      t.vsphere.insecure,
    ]),
    ['store', 'insecure' in config.store && config.store.insecure],
    ['nats', config.nats.tls?.insecure ?? false],
  ];
  for (const [what, on] of insecure) {
    if (on) log.warn({ what }, `${what}.insecure is true: TLS certificates are not verified`);
  }
  const store = createStore(config.store, log.child({ component: 'store' }));
  const buckets = { store: bucketOf(config.bandwidth.store), vcenter: bucketOf(config.bandwidth.vcenter) };
  const cache = new DownloadCache({
    dir: config.cache.dir,
    maxBytes: config.cache.maxBytes,
    logger: log.child({ component: 'cache' }),
    ...(buckets.store ? { storeBuckets: [buckets.store] } : {}),
  });
  const queues = new TransferQueues(config.concurrency);
  const trusted = await loadTrustedKeys(config.trust.publicKeys);
  const rt: AgentRuntime = {
    config,
    log,
    store,
    cache,
    proofs: new OvaProofs(),
    queues,
    trusted,
    targets: [],
    buckets,
    pullServer: undefined,
  } as unknown as AgentRuntime; // the first target's fields are set below
  // Sources of subscribe targets must be published libraries (vcsim only publishes one created so).
  const published = new Set(targets.flatMap((t) => (t.subscribe ? [t.subscribe] : [])));
  for (const t of targets) {
    if (t.subscribe === undefined) rt.targets.push(await pushOrPullTarget(rt, t, published.has(t.site)));
  }
  for (const t of targets) {
    if (t.subscribe !== undefined) rt.targets.push(await subscribeTarget(rt, t));
  }
  // Config order (status columns, `check` output).
  rt.targets.sort((a, b) => indexOf(config, a) - indexOf(config, b));
  const first = rt.targets[0]!;
  rt.library = first.library;
  rt.importer = first.importer;
  rt.libraryId = first.libraryId;
  if (first.deployCheck) rt.deployCheck = first.deployCheck;
  return rt;
}

function indexOf(config: AgentConfig, t: TargetRuntime): number {
  return config.targets.findIndex((c) => c.site === t.config.site);
}

async function baseTarget(rt: AgentRuntime, t: TargetConfig) {
  const log = targetLogger(rt.log, rt.config, t.site);
  // The client names its own component (content-library).
  const library = await createLibraryClient(t.vsphere, { logger: log });
  const identity: SiteIdentity = { site: t.site, zone: rt.config.zone, labels: t.labels };
  const deployCheck = await createSiteDeployCheck(t, library, log);
  return { log, library, identity, ...(deployCheck ? { deployCheck } : {}) };
}

/**
 * A target's runtime around its library id. Its importer names and finds items in the library, and
 * transfers images with `transfer` (push/pull); its jobs run `jobImporter`, else that importer.
 */
function targetRuntime(
  rt: AgentRuntime,
  t: TargetConfig,
  base: Awaited<ReturnType<typeof baseTarget>>,
  libraryId: () => Promise<string>,
  transfer: Pick<ImageImporterOptions, 'targetImports' | 'uploadBuckets' | 'pull'>,
  jobImporter?: JobImporter,
): TargetRuntime {
  const { log, library, identity, deployCheck } = base;
  const importer = new ImageImporter({
    library,
    libraryId,
    store: rt.store,
    cache: rt.cache,
    proofs: rt.proofs,
    queues: rt.queues,
    itemNameTemplate: t.vsphere.itemName,
    ...transfer,
    logger: log,
  });
  return {
    config: t,
    identity,
    library,
    libraryId,
    importer,
    jobImporter: jobImporter ?? importer,
    ...(deployCheck ? { deployCheck } : {}),
  };
}

async function pushOrPullTarget(rt: AgentRuntime, t: TargetConfig, publish: boolean): Promise<TargetRuntime> {
  const base = await baseTarget(rt, t);
  let idPromise: Promise<string> | undefined;
  const libraryId = (refresh = false) => {
    if (refresh) idPromise = undefined;
    idPromise ??= base.library.ensureLibrary(t.vsphere.library, t.vsphere.datastore, { publish }).catch((err) => {
      idPromise = undefined; // try again next time (vCenter may be back)
      throw err;
    });
    return idPromise;
  };
  const targetBuckets = [bucketOf(t.bandwidth.vcenter)].filter((b) => b !== undefined);
  const pull =
    t.transfer === 'pull'
      ? new PullImport({
          server: () => rt.pullServer,
          ttlMs: rt.config.pull?.ttl ?? 0,
          buckets: targetBuckets,
          logger: base.log,
        })
      : undefined;
  return targetRuntime(rt, t, base, libraryId, {
    ...(t.imports === undefined ? {} : { targetImports: new PQueue({ concurrency: t.imports }) }),
    uploadBuckets: [rt.buckets.vcenter, ...targetBuckets].filter((b) => b !== undefined),
    ...(pull ? { pull } : {}),
  });
}

async function subscribeTarget(rt: AgentRuntime, t: TargetConfig): Promise<TargetRuntime> {
  const base = await baseTarget(rt, t);
  const source = rt.targets.find((s) => s.config.site === t.subscribe);
  if (!source) throw new Error(`target ${t.site} subscribes to ${t.subscribe}, which is not a target of this agent`);
  const itemNameOf = source.importer;
  const sync = new SubscribedImporter({
    source: {
      site: source.config.site,
      library: source.library,
      libraryId: () => source.libraryId(),
      findItem: (m) => source.importer.findItem(m),
    },
    target: { library: base.library, libraryName: t.vsphere.library, datastore: t.vsphere.datastore },
    itemName: (m) => itemNameOf.itemName(m),
    logger: base.log,
  });
  const libraryId = async () => {
    const id = await sync.libraryId();
    if (id === undefined) {
      throw new Error(
        `subscribed library ${t.vsphere.library} does not exist yet: ferry creates it with the first image ${t.subscribe} holds`,
      );
    }
    return id;
  };
  // Item names and lookups in the subscribed library; never used to transfer (jobImporter syncs).
  return targetRuntime(rt, t, base, libraryId, {}, sync);
}
