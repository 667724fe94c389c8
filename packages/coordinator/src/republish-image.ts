import { assertSiteId, type Catalog, type EventBus, type PublishedEvent, parseImageRef } from '@ferry/shared';
import { ImageNotFoundError, ImageRetiredError, UsageError } from './errors.js';

export interface RepublishOptions {
  /** `name@version`. */
  ref: string;
  /** Only these sites (each on its own subject); default: every site (`all`). */
  sites?: readonly string[];
  /** Re-import even where the library already holds the sha256. */
  force?: boolean;
}

export interface RepublishResult {
  name: string;
  version: string;
  events: PublishedEvent[];
}

/** Parses `name@version`, insisting on the version. */
export function parseExactRef(ref: string): { name: string; version: string } {
  const { name, version } = parseImageRef(ref);
  if (version === undefined) throw new UsageError(`expected NAME@VERSION, got ${JSON.stringify(ref)}`);
  return { name, version };
}

/** `ferry republish N@V`: announce a catalog entry again (to all sites or to some). */
export async function republishImage(
  deps: { catalog: Catalog; bus: EventBus },
  options: RepublishOptions,
): Promise<RepublishResult> {
  const { name, version } = parseExactRef(options.ref);
  const sites = [...new Set(options.sites ?? [])].map((s) => assertSiteId(s));
  const manifest = await deps.catalog.get(name, version);
  if (!manifest) throw new ImageNotFoundError(name, version);
  if (manifest.retiredAt) {
    throw new ImageRetiredError(
      `${name}@${version} was retired at ${manifest.retiredAt}; publish a new version instead`,
    );
  }
  const force = options.force ?? false;
  const targets = sites.length > 0 ? sites : ['all'];
  const events: PublishedEvent[] = [];
  for (const target of targets) {
    events.push(await deps.bus.publish(target, { kind: 'republish', manifest, force }));
  }
  return { name, version, events };
}
