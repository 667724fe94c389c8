import { z } from 'zod';
import { IMAGE_NAME_RULE, isImageName, isVersion } from './names.js';
import { parserOf } from './schema-error.js';
import { isSafeStorePath } from './store-path-check.js';

export const MANIFEST_SCHEMA = 'ferry/manifest/v1';

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lowercase hex characters (SHA-256)');

export const manifestFileSchema = z.strictObject({
  name: z.string().min(1).max(255),
  size: z.number().int().nonnegative(),
  sha256: sha256Hex,
});

/** Target selectors: `*`, a site id, `zone:<zone>` or `label:<key>=<value>`. */
export const targetSchema = z
  .string()
  .regex(
    /^(\*|[A-Za-z0-9_-]+|zone:[A-Za-z0-9_.-]+|label:[A-Za-z0-9_./-]+=[A-Za-z0-9_./:-]*)$/,
    'expected "*", a site id, "zone:<zone>" or "label:<key>=<value>"',
  );

const manifestFields = {
  schema: z.literal(MANIFEST_SCHEMA),
  name: z.string().refine(isImageName, IMAGE_NAME_RULE),
  version: z.string().refine(isVersion, IMAGE_NAME_RULE),
  artifact: z.string().refine(isSafeStorePath, 'expected a relative store path without "..", "\\" or NUL'),
  sha256: sha256Hex,
  size: z.number().int().nonnegative(),
  files: z.array(manifestFileSchema).min(1),
  targets: z.array(targetSchema).min(1),
  labels: z.record(z.string(), z.string()).default({}),
  publishedAt: z.iso.datetime({ offset: true }),
  /** sha256 this manifest replaces (`ferry publish --replace`); agents refuse silent replacement otherwise. */
  replaces: sha256Hex.optional(),
  /** Set by `ferry retire`: the version is to be removed from every library. */
  retiredAt: z.iso.datetime({ offset: true }).optional(),
  keyId: z.string().min(1).max(128),
};

export const unsignedManifestSchema = z.strictObject(manifestFields);
export const manifestSchema = z.strictObject({
  ...manifestFields,
  signature: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/, 'expected base64'),
});

export type ManifestFile = z.infer<typeof manifestFileSchema>;
export type UnsignedManifest = z.infer<typeof unsignedManifestSchema>;
export type Manifest = z.infer<typeof manifestSchema>;

/** Validates a signed manifest's shape (not its signature: see `verifyManifest`). */
export const parseManifest = parserOf<Manifest>(manifestSchema, 'manifest');

export const parseUnsignedManifest = parserOf<UnsignedManifest>(unsignedManifestSchema, 'manifest');

/**
 * The one sidecar name used before sidecars were per image version: `<artifact>.manifest.json`.
 * Two images registered from the same object shared (and overwrote) it; it is still read, so
 * stores written by older releases keep their catalog source.
 */
export function sidecarPath(artifact: string): string {
  return `${artifact}.manifest.json`;
}

/**
 * Store path of the signed sidecar of one image version, next to its OVA:
 * `<artifact>.<name>@<version>.manifest.json`. Keyed by name and version so that two image
 * versions registered from the same object never share (or overwrite) one; `@` never appears in
 * a name or version, so the name stays unambiguous.
 */
export function imageSidecarPath(artifact: string, name: string, version: string): string {
  return `${artifact}.${name}@${version}.manifest.json`;
}
