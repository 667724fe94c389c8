/**
 * The coordinator's view of the store, which is the source of truth (DESIGN "Manifest v1"):
 *
 * - every `<artifact>.manifest.json` sidecar signed with the coordinator's own key is put back in
 *   the catalog when the catalog lacks it (or holds an older one) — this rebuilds a lost catalog;
 * - every `<name>/<version>/<file>.ova` without a sidecar (Packer pushed it, say) is registered
 *   as `ferry publish --from-store` would, with `discovery.targets`.
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
  sidecarPath,
  type TrustedKey,
  verifyManifest,
} from '@ferry/shared';
import { type PublishDeps, publishFromStore } from './publish-image.js';
import { readSidecar, writeSidecar } from './sidecar.js';

const SIDECAR_SUFFIX = '.manifest.json';

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
      repaired: 0,
      skipped: [],
      errors: [],
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

    // 1. Sidecars → catalog. The newest sidecar per name@version wins.
    const best = new Map<string, Manifest>();
    for (const path of objects.keys()) {
      if (!path.endsWith(SIDECAR_SUFFIX)) continue;
      report.sidecars++;
      try {
        const m = await readSidecar(store, path);
        if (!m) continue;
        verifyManifest(m, trusted);
        if (sidecarPath(m.artifact) !== path) {
          report.skipped.push({ path, reason: `sidecar names another artifact (${m.artifact})` });
          continue;
        }
        if (!objects.has(m.artifact)) {
          report.skipped.push({ path, reason: `its artifact ${m.artifact} is not in the store` });
          continue;
        }
        const k = catalogKey(m.name, m.version);
        const other = best.get(k);
        if (!other || stamp(m) > stamp(other)) best.set(k, m);
      } catch (err) {
        report.errors.push({ path, message: describeError(err).message });
      }
    }
    for (const [k, m] of best) {
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
          { image: `${m.name}@${m.version}`, announced: !report.rebuild && changed },
          'catalog entry restored from sidecar',
        );
      } catch (err) {
        report.errors.push({ path: sidecarPath(m.artifact), message: describeError(err).message });
      }
    }

    // 2. OVAs without a sidecar → registered like `ferry publish --from-store`.
    const settleMs = this.#options.settleMs ?? 60_000;
    for (const [path, info] of objects) {
      if (!path.toLowerCase().endsWith('.ova') || objects.has(sidecarPath(path))) continue;
      const image = imageFromPath(path, this.#options.prefix);
      if ('reason' in image) {
        report.skipped.push({ path, reason: image.reason });
        this.#log?.info({ path, reason: image.reason }, 'OVA skipped by discovery');
        continue;
      }
      if (info.lastModified && Date.now() - info.lastModified.getTime() < settleMs) {
        report.skipped.push({ path, reason: 'modified moments ago; next pass' });
        continue;
      }
      const existing = inCatalog.get(catalogKey(image.name, image.version));
      try {
        if (existing) {
          if (existing.artifact === path) {
            // Catalogued, but its sidecar is gone from the store: put it back.
            await writeSidecar(store, existing);
            report.repaired++;
          } else {
            report.skipped.push({
              path,
              reason: `${image.name}@${image.version} is already published from ${existing.artifact}`,
            });
          }
          continue;
        }
        const result = await publishFromStore(this.#deps, {
          path,
          name: image.name,
          version: image.version,
          targets: this.#options.targets,
        });
        inCatalog.set(catalogKey(image.name, image.version), result.manifest);
        if (result.status === 'published') report.registered++;
      } catch (err) {
        report.errors.push({ path, message: describeError(err).message });
        this.#log?.warn({ path, err: describeError(err).message }, 'cannot register OVA found in the store');
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
