/**
 * The coordinator's view of the store, which is the source of truth (DESIGN "Manifest v1"):
 *
 * - every sidecar (`<artifact>.<name>@<version>.manifest.json`, and the older one-per-object
 *   `<artifact>.manifest.json`) signed with the coordinator's own key is put back in the catalog
 *   when the catalog lacks it (or holds an older one) — this rebuilds a lost catalog, retired
 *   versions included;
 * - a catalog entry whose sidecar is gone from the store gets it written back;
 * - every `<name>/<version>/<file>.ova` without a sidecar (Packer pushed it, say) is registered
 *   as `ferry publish --from-store` would, with `discovery.targets`, and the log says so;
 * - an OVA with a `ferry publish` marker (`<artifact>.ferry-publishing`, publish-guard.ts) is left
 *   alone, sidecars included: that publish is running or failed, and must not reach a site.
 *
 * Events: a sidecar that is new to a non-empty catalog is the trace of a publish or retire that
 * stopped half-way (sidecar written, catalog not): its event is published (same Nats-Msg-Id as the
 * CLI's, so JetStream stores it once if the CLI did send it). When the catalog was empty at the start
 * of the pass, the bucket was lost and this is a rebuild: entries are restored WITHOUT events, so a
 * lost bucket does not re-trigger imports at every site (agents would skip the sha256 they hold
 * anyway, and their scheduled reconcile reads the rebuilt catalog). Registered OVAs always announce.
 */
import { createPublicKey } from 'node:crypto';
import {
  catalogKey,
  describeError,
  isImageName,
  isVersion,
  keyIdOf,
  type Logger,
  type Manifest,
  type ObjectInfo,
  publishedMsgId,
  type TrustedKey,
  verifyManifest,
} from '@ferry/shared';
import { markedArtifact, unfinishedPublishReason } from '../publish/publish-guard.js';
import { type PublishDeps, publishFromStore } from '../publish/publish-image.js';
import { isSidecarPathOf, ovasWithSidecars, readSidecar, SIDECAR_SUFFIX, writeSidecar } from '../publish/sidecar.js';

const REGISTER_REASON =
  'an OVA at <name>/<version>/<file>.ova with no sidecar and no ferry publish marker (pushed by Packer or another tool)';

export interface DiscoveryOptions {
  /** Store prefix to list (`discovery.prefix`). */
  prefix: string;
  /** Targets of OVAs registered by discovery (`discovery.targets`). */
  targets: readonly string[];
  /**
   * OVAs younger than this are left for the next pass: a `ferry publish` that just completed its
   * upload writes the sidecar a moment later, and should not race discovery. Default 60 s.
   */
  settleMs?: number;
  logger?: Logger;
}

export interface DiscoveryReport {
  /** The catalog was empty at the start: sidecars were restored without events. */
  rebuild: boolean;
  sidecars: number;
  /** Catalog entries written from sidecars. */
  restored: number;
  /** Events published for sidecars new to a non-empty catalog. */
  announced: number;
  /** OVAs without sidecar registered (signed, catalogued, announced). */
  registered: number;
  /** Which OVAs were registered, as which image, and why. */
  registrations: Array<{ path: string; image: string; reason: string }>;
  /** Sidecars rewritten from the catalog where the store had lost them. */
  repaired: number;
  skipped: Array<{ path: string; reason: string }>;
  errors: Array<{ path: string; message: string }>;
}

/** The path's name/version for `[<prefix dir>/]<name>/<version>/<file>.ova`, or why it does not fit. */
export function imageFromPath(path: string, prefix: string): { name: string; version: string } | { reason: string } {
  const dir = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/') + 1) : '';
  if (!path.startsWith(dir)) return { reason: `not under ${dir}` };
  const parts = path.slice(dir.length).split('/');
  if (parts.length !== 3) return { reason: 'path does not fit <name>/<version>/<file>.ova' };
  const [name, version] = parts as [string, string, string];
  if (!isImageName(name)) return { reason: `${JSON.stringify(name)} is not a valid image name` };
  if (!isVersion(version)) return { reason: `${JSON.stringify(version)} is not a valid version` };
  return { name, version };
}

/** When a manifest last changed: retiring re-signs with a later `retiredAt`. */
function stamp(m: Manifest): number {
  return Math.max(Date.parse(m.publishedAt), m.retiredAt ? Date.parse(m.retiredAt) : 0);
}

export class StoreDiscovery {
  readonly #deps: PublishDeps;
  readonly #options: DiscoveryOptions;
  readonly #log: Logger | undefined;

  constructor(deps: PublishDeps, options: DiscoveryOptions) {
    this.#deps = deps;
    this.#options = options;
    this.#log = options.logger ?? deps.logger;
  }

  async #trustedKey(): Promise<TrustedKey> {
    const key = await this.#deps.signingKey();
    const publicKey = createPublicKey(key.privateKey);
    return { keyId: keyIdOf(publicKey), publicKey, source: 'signing.privateKeyFile' };
  }

  /** One pass over the store. Errors on single objects are reported, not thrown. */
  async runOnce(): Promise<DiscoveryReport> {
    const { store, catalog, bus } = this.#deps;
    const report: DiscoveryReport = {
      rebuild: false,
      sidecars: 0,
      restored: 0,
      announced: 0,
      registered: 0,
      registrations: [],
      repaired: 0,
      skipped: [],
      errors: [],
    };
    const skip = (path: string, reason: string) => {
      report.skipped.push({ path, reason });
      this.#log?.info({ path, reason }, 'discovery skipped an object');
    };
    const failed = (path: string, err: unknown) => {
      const message = describeError(err).message;
      report.errors.push({ path, message });
      this.#log?.warn({ path, err: message }, 'discovery failed on an object');
    };
    const trusted = [await this.#trustedKey()];
    const inCatalog = new Map<string, Manifest>();
    for (const m of await catalog.list((key, err) =>
      this.#log?.warn({ key, err: err.message }, 'invalid catalog entry'),
    )) {
      inCatalog.set(catalogKey(m.name, m.version), m);
    }
    report.rebuild = inCatalog.size === 0;

    const objects = new Map<string, ObjectInfo>();
    for await (const obj of store.list(this.#options.prefix)) objects.set(obj.path, obj);
    const unfinished = new Set<string>();
    for (const path of objects.keys()) {
      const artifact = markedArtifact(path);
      if (artifact !== undefined) unfinished.add(artifact);
    }

    // 1. Sidecars → catalog. The newest sidecar per name@version wins (a retire re-signs later).
    const best = new Map<string, { m: Manifest; path: string }>();
    /** name@version keys whose own (or older-style) sidecar is in the store. */
    const covered = new Set<string>();
    for (const path of objects.keys()) {
      if (!path.endsWith(SIDECAR_SUFFIX)) continue;
      report.sidecars++;
      try {
        const m = await readSidecar(store, path);
        if (!m) continue;
        verifyManifest(m, trusted);
        if (!isSidecarPathOf(path, m)) {
          skip(path, `sidecar names another image or artifact (${m.name}@${m.version} at ${m.artifact})`);
          continue;
        }
        if (!objects.has(m.artifact)) {
          skip(path, `its artifact ${m.artifact} is not in the store`);
          continue;
        }
        if (unfinished.has(m.artifact)) {
          skip(path, unfinishedPublishReason(m.artifact));
          continue;
        }
        const k = catalogKey(m.name, m.version);
        covered.add(k);
        const other = best.get(k);
        if (!other || stamp(m) > stamp(other.m)) best.set(k, { m, path });
      } catch (err) {
        failed(path, err);
      }
    }
    for (const [k, { m, path }] of best) {
      const existing = inCatalog.get(k);
      if (existing && (existing.signature === m.signature || stamp(existing) >= stamp(m))) continue;
      try {
        await catalog.put(m);
        inCatalog.set(k, m);
        report.restored++;
        const changed = !existing || existing.sha256 !== m.sha256 || !!existing.retiredAt !== !!m.retiredAt;
        if (!report.rebuild && changed) {
          if (m.retiredAt)
            await bus.publish('all', { kind: 'retired', manifest: m }, `${m.name}@${m.version}:${m.sha256}:retired`);
          else await bus.publish('all', { kind: 'published', manifest: m }, publishedMsgId(m));
          report.announced++;
        }
        this.#log?.info(
          {
            image: `${m.name}@${m.version}`,
            sidecar: path,
            retired: !!m.retiredAt,
            announced: !report.rebuild && changed,
          },
          'catalog entry restored from sidecar',
        );
      } catch (err) {
        failed(path, err);
      }
    }

    // 2. Catalog entries whose artifact is here but whose sidecar is gone: put the sidecar back.
    for (const [k, m] of inCatalog) {
      if (covered.has(k) || !objects.has(m.artifact) || unfinished.has(m.artifact)) continue;
      try {
        const path = await writeSidecar(store, m);
        report.repaired++;
        this.#log?.info({ image: `${m.name}@${m.version}`, sidecar: path }, 'sidecar rewritten from the catalog');
      } catch (err) {
        failed(m.artifact, err);
      }
    }

    // 3. OVAs without any sidecar → registered like `ferry publish --from-store`.
    const settleMs = this.#options.settleMs ?? 60_000;
    const withSidecars = ovasWithSidecars(objects.keys());
    const catalogued = new Set([...inCatalog.values()].map((m) => m.artifact));
    for (const [path, info] of objects) {
      if (!path.toLowerCase().endsWith('.ova') || withSidecars.has(path) || catalogued.has(path)) continue;
      if (unfinished.has(path)) {
        skip(path, unfinishedPublishReason(path));
        continue;
      }
      const image = imageFromPath(path, this.#options.prefix);
      if ('reason' in image) {
        skip(path, image.reason);
        continue;
      }
      if (info.lastModified && Date.now() - info.lastModified.getTime() < settleMs) {
        skip(path, 'modified moments ago; next pass');
        continue;
      }
      const existing = inCatalog.get(catalogKey(image.name, image.version));
      if (existing) {
        skip(path, `${image.name}@${image.version} is already published from ${existing.artifact}`);
        continue;
      }
      try {
        const result = await publishFromStore(this.#deps, {
          path,
          name: image.name,
          version: image.version,
          targets: this.#options.targets,
        });
        inCatalog.set(catalogKey(image.name, image.version), result.manifest);
        if (result.status === 'published') {
          const reason = REGISTER_REASON;
          report.registered++;
          report.registrations.push({ path, image: `${image.name}@${image.version}`, reason });
          this.#log?.info(
            { path, image: `${image.name}@${image.version}`, sha256: result.manifest.sha256, reason },
            'discovery registered and announced an OVA',
          );
        }
      } catch (err) {
        failed(path, err);
      }
    }
    this.#log?.info(
      {
        rebuild: report.rebuild,
        sidecars: report.sidecars,
        restored: report.restored,
        announced: report.announced,
        registered: report.registered,
        repaired: report.repaired,
        skipped: report.skipped.length,
        errors: report.errors.length,
        // Which objects failed and why (the first 20; the count above is complete).
        ...(report.errors.length > 0
          ? { failures: report.errors.slice(0, 20).map((e) => `${e.path}: ${e.message}`) }
          : {}),
      },
      report.errors.length > 0 ? 'discovery pass finished with errors' : 'discovery pass finished',
    );
    return report;
  }
}
