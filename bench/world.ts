/**
 * The benchmark's world on loopback: s3rver in its own process, nats-server, vcsims (separate
 * Go processes), a signing key, and the OVAs of each size (built once, staged once).
 */
import { link, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Manifest, ObjectStore } from '@ferry/shared';
import {
  ContentLibraryClient,
  DownloadCache,
  ImageImporter,
  type ImportProgress,
  type OvaProofs,
  TransferQueues,
} from '@ferry/site-agent/internal';
import { stringify } from 'yaml';
import { type AgentConfigSpec, writeAgentConfig } from '../test/support/agent-config.js';
import { makeTestKey, stageImage, type TestKey } from '../test/support/images.js';
import { type NatsHandle, startNats } from '../test/world/nats.js';
import { type BuiltOva, buildOva } from '../test/world/ova.js';
import { s3Store } from '../test/world/s3.js';
import { startVcsim, type VcsimHandle } from '../test/world/vcsim.js';
import { log, type S3Process, startS3Process } from './common.js';

export interface StagedOva {
  ova: BuiltOva;
  manifest: Manifest;
  manifestFile: string;
  /** The disk file's size (the OVA is one .ovf, one .mf, one disk). */
  diskSize: number;
}

export class BenchWorld {
  readonly #ovas = new Map<string, Promise<StagedOva>>();
  readonly #cleanups: Array<() => Promise<unknown>> = [];
  #nats: NatsHandle | undefined;
  #configCount = 0;

  private constructor(
    readonly dir: string,
    readonly s3: S3Process,
    readonly store: ObjectStore,
    readonly key: TestKey,
  ) {}

  static async start(): Promise<BenchWorld> {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-bench-'));
    const s3 = await startS3Process();
    const store = s3Store(s3.handle);
    const key = await makeTestKey(dir);
    return new BenchWorld(dir, s3, store, key);
  }

  /** A fresh S3Store (its own client and connection pool) on the bench's s3rver. */
  newStore(): ObjectStore {
    const h = this.s3.handle;
    return s3Store(h);
  }

  async nats(): Promise<NatsHandle> {
    if (!this.#nats) {
      this.#nats = await startNats();
      const n = this.#nats;
      this.#cleanups.push(() => n.destroy());
    }
    return this.#nats;
  }

  async vcsim(): Promise<VcsimHandle> {
    const v = await startVcsim();
    this.#cleanups.push(() => v.stop());
    return v;
  }

  /** A temp dir under the bench's dir. */
  async tempDir(name: string): Promise<string> {
    const d = await mkdtemp(join(this.dir, `${name}-`));
    return d;
  }

  /**
   * An OVA whose one disk is `diskSize` bytes, built once and staged in the store (with its
   * signed manifest written to a file for `ferry-agent import`).
   */
  ova(diskSize: number, name = `bench${Math.round(diskSize / 2 ** 20)}m`): Promise<StagedOva> {
    let p = this.#ovas.get(name);
    if (!p) {
      p = (async () => {
        const sub = join(this.dir, 'ovas', name);
        await mkdir(sub, { recursive: true });
        log(`building ${name}.ova (disk ${Math.round(diskSize / 2 ** 20)} MiB)`);
        const ova = await buildOva(sub, { name, diskSize, seed: name });
        log(`staging ${name}.ova in s3rver`);
        const manifest = await stageImage(this.store, this.key, ova, { name, version: '1' });
        const manifestFile = join(sub, `${name}.manifest.json`);
        await writeFile(manifestFile, JSON.stringify(manifest, null, 2));
        return { ova, manifest, manifestFile, diskSize };
      })();
      this.#ovas.set(name, p);
    }
    return p;
  }

  /** Forgets (and deletes the local file of) a staged OVA, to give its disk space back. */
  async dropOva(name: string): Promise<void> {
    const p = this.#ovas.get(name);
    if (!p) return;
    this.#ovas.delete(name);
    const staged = await p;
    await rm(staged.ova.path, { force: true });
    await this.store.delete(staged.manifest.artifact);
  }

  /** Writes a real agent YAML for a site (its own cache dir); returns its path and dir. */
  async agentConfig(
    site: string,
    vcsim: VcsimHandle,
    natsUrl: string,
    extra: Partial<AgentConfigSpec> = {},
  ): Promise<{ file: string; dir: string }> {
    const dir = join(this.dir, 'sites', `${site}-${this.#configCount++}`);
    const file = await writeAgentConfig({
      dir,
      site,
      natsUrls: [natsUrl],
      s3: this.s3.handle,
      vcsim,
      publicKeyFile: this.key.publicKeyFile,
      ...extra,
      extra: {
        reconcile: { enabled: false },
        log: { level: process.env.BENCH_AGENT_LOG ? 'debug' : 'warn' },
        ...extra.extra,
      },
    });
    return { file, dir };
  }

  /** A coordinator YAML for `ferry publish` (NATS, the store, the signing key). */
  async coordinatorConfig(natsUrl: string): Promise<string> {
    const h = this.s3.handle;
    await writeFile(join(this.dir, 'coord-s3.id'), h.accessKeyId);
    await writeFile(join(this.dir, 'coord-s3.secret'), h.secretAccessKey);
    const file = join(this.dir, 'coordinator.yaml');
    await writeFile(
      file,
      stringify({
        nats: { servers: [natsUrl] },
        store: {
          type: 's3',
          endpoint: h.endpoint,
          bucket: h.bucket,
          region: h.region,
          forcePathStyle: true,
          accessKeyIdFile: 'coord-s3.id',
          secretAccessKeyFile: 'coord-s3.secret',
        },
        signing: { privateKeyFile: this.key.privateKeyFile },
        http: { listen: '127.0.0.1:0' },
      }),
    );
    return file;
  }

  onStop(fn: () => Promise<unknown>): void {
    this.#cleanups.push(fn);
  }

  async stop(): Promise<void> {
    for (const c of this.#cleanups.reverse()) await c().catch(() => {});
    await this.s3.stop().catch(() => {});
    await rm(this.dir, { recursive: true, force: true });
  }
}

/**
 * An importer whose cache already holds `ova` (a hard link), so an import measures the
 * upload to the vCenter, not the download.
 */
export async function prefilledImporter(
  world: BenchWorld,
  cacheDir: string,
  library: ContentLibraryClient,
  libraryId: string,
  ova: { path: string; sha256: string },
  /** Shared with another importer: a zone's targets (the OVA proven once). */
  proofs?: OvaProofs,
): Promise<ImageImporter> {
  const cache = new DownloadCache({ dir: cacheDir, maxBytes: 64 * 2 ** 30 });
  await cache.init();
  await link(ova.path, cache.finalPath(ova.sha256));
  return new ImageImporter({
    library,
    libraryId: async () => libraryId,
    store: world.store,
    cache,
    ...(proofs ? { proofs } : {}),
    queues: new TransferQueues({ downloads: 1, imports: 1 }),
    itemNameTemplate: '{name}-{version}',
  });
}

/**
 * True on the progress report that says the cache holds the whole file, proven: for a reused file
 * the import has usually opened its session already (it waits on the cache file), so that report
 * comes as `importing` without `bytesDownloaded`, else as a complete `downloading`.
 */
export function cacheComplete(p: ImportProgress): boolean {
  return p.state === 'downloading'
    ? p.bytesDone === p.bytesTotal
    : p.state === 'importing' && p.bytesDownloaded === undefined;
}

/** A Content Library client on a bench vcsim (its own CA) and the id of library `name` in it. */
export async function benchLibrary(
  vc: VcsimHandle,
  name = 'bench',
): Promise<{ library: ContentLibraryClient; libraryId: string }> {
  const library = new ContentLibraryClient({
    url: vc.url,
    username: vc.username,
    password: vc.password,
    ca: await readFile(vc.caFile),
  });
  return { library, libraryId: await library.ensureLibrary(name, vc.datastoreId) };
}
