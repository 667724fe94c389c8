import { type Catalog, type EventBus, type PublishedEvent, parseImageRef, type Topology } from '@ferry/shared';
import { ImageNotFoundError, ImageRetiredError, UsageError } from '../errors.js';
import { assertKnownSites } from '../sites/known-sites.js';

export interface RepublishOptions {
  /** `name@version`. */
  ref: string;
  /** Only these sites (each on its own subject); default: every site (`all`). */
  sites?: readonly string[];
  /** Re-import even where the library already holds the sha256. */
  force?: boolean;
  /** Address sites that have not reported yet (the CLI's --force); otherwise they are refused. */
  allowUnknownSites?: boolean;
  /** After the list of known sites in the refusal: what the caller can do. */
  unknownSiteHint?: string;
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
  deps: { catalog: Catalog; bus: EventBus; topology: Pick<Topology, 'sites' | 'status'> },
  options: RepublishOptions,
): Promise<RepublishResult> {
  const { name, version } = parseExactRef(options.ref);
  const sites = await assertKnownSites(deps.topology, options.sites ?? [], {
    force: options.allowUnknownSites,
    hint: options.unknownSiteHint,
  });
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
