import { ChecksumMismatchError, OvaFormatError } from '../errors.js';
import type { ManifestFile } from '../manifest.js';
import { MAX_OVF_BYTES, type MfLine, type OvfReference, parseMf, parseOvfReferences } from './ovf-references.js';
import { TAR_BLOCK } from './tar-header.js';

export type OvaEntryRole = 'ovf' | 'mf' | 'cert' | 'file';

export interface OvaReadOptions {
  /** Size of the whole archive: entries that declare more than this are a tar bomb. */
  archiveSize?: number;
  /** Files as the signed manifest lists them: every entry must be one of them, same size and sha256. */
  expectedFiles?: readonly ManifestFile[];
}

export interface OvaSummary {
  ovf: string;
  mf: string;
  references: OvfReference[];
  /** Every entry in archive order, with its size and sha256. */
  files: ManifestFile[];
}

/** What the checker asks of the reader for one entry whose header it accepted. */
export interface OvaEntryPlan {
  role: OvaEntryRole;
  /** A descriptor (.ovf or .mf): read it whole and hand its text to `descriptor()` before going on. */
  small: boolean;
  /** Hash it with SHA-1 too (a `.mf` with SHA1 lines may still come, or says so). */
  sha1: boolean;
}

/** Refuses names that could escape a directory or hide what they are. */
function checkEntryName(name: string): void {
  if (!name) throw new OvaFormatError(name, 'has an empty name');
  if (name.includes('\0')) throw new OvaFormatError(name, 'has a NUL byte in its name');
  if (name.startsWith('/')) throw new OvaFormatError(name, 'has an absolute path');
  if (name.split(/[\\/]/).includes('..')) throw new OvaFormatError(name, 'has a ".." path segment');
  if (name.includes('/') || name.includes('\\'))
    throw new OvaFormatError(name, 'is in a subdirectory; OVA entries are flat');
}

function roleOf(name: string): OvaEntryRole {
  const lower = name.toLowerCase();
  if (lower.endsWith('.ovf')) return 'ovf';
  if (lower.endsWith('.mf')) return 'mf';
  if (lower.endsWith('.cert')) return 'cert';
  return 'file';
}

/**
 * The rules an OVA must follow, entry by entry, whoever reads its bytes: safe flat names, regular
 * files only, the `.ovf` first, every file referenced by it with the size it says, the `.mf`
 * digests, the signed manifest's file list, and no entry declaring more than the archive holds.
 * Each step throws an `OvaFormatError` or `ChecksumMismatchError` naming the entry. `OvaReader`
 * (a stream, through tar-stream) and `OvaProver` (a cache file read at offsets) both drive it:
 *
 *   const plan = checker.begin(name, type, size); // before the entry's bytes
 *   if (plan.small) checker.descriptor(name, plan.role, text);
 *   checker.end(name, plan.role, bytesRead, sha256, sha1); // after them
 *   checker.finish(); // the summary, once the archive ended
 */
export class OvaChecker {
  readonly #archiveSize: number | undefined;
  readonly #expected: Map<string, ManifestFile> | undefined;
  readonly #expectedFiles: readonly ManifestFile[];
  readonly #seen = new Map<string, ManifestFile>();
  readonly #files: ManifestFile[] = [];
  #ovfName: string | undefined;
  #mfName: string | undefined;
  #references: OvfReference[] = [];
  #referenced = new Map<string, OvfReference>();
  #mf: Map<string, MfLine> | undefined;
  /** sha1 digests of entries read before the .mf, in case it lists SHA1 lines. */
  readonly #sha1Before = new Map<string, string>();
  #declared = 0;
  /** The entry between begin() and end(), with its declared size. */
  #open: { name: string; size: number } | undefined;

  constructor(options: OvaReadOptions = {}) {
    this.#archiveSize = options.archiveSize;
    this.#expectedFiles = options.expectedFiles ?? [];
    this.#expected = options.expectedFiles && new Map(options.expectedFiles.map((f) => [f.name, f]));
  }

  /** Checks an entry's header (`type` as tar-stream names it); returns how to read its bytes. */
  begin(name: string, type: string | null, size: number): OvaEntryPlan {
    checkEntryName(name);
    if (type !== 'file') {
      throw new OvaFormatError(name, `is a ${type}; only regular files are allowed in an OVA`);
    }
    if (this.#seen.has(name)) throw new OvaFormatError(name, 'appears twice in the archive');
    this.#declared += size + TAR_BLOCK;
    if (this.#archiveSize !== undefined && this.#declared > this.#archiveSize) {
      throw new OvaFormatError(
        name,
        `declares ${size} bytes, more than the archive's ${this.#archiveSize} bytes hold (corrupt or a tar bomb)`,
      );
    }
    const role = roleOf(name);
    const ovfName = this.#ovfName;
    if (ovfName === undefined) {
      if (role !== 'ovf')
        throw new OvaFormatError(name, 'comes first, but the OVF descriptor (.ovf) must be the first entry');
      if (size > MAX_OVF_BYTES)
        throw new OvaFormatError(name, `is ${size} bytes; OVF descriptors over ${MAX_OVF_BYTES} are refused`);
    } else {
      const base = ovfName.slice(0, -4);
      if (role === 'ovf') throw new OvaFormatError(name, `is a second OVF descriptor (the first was ${ovfName})`);
      if ((role === 'mf' || role === 'cert') && name.slice(0, name.lastIndexOf('.')) !== base) {
        throw new OvaFormatError(
          name,
          `does not belong to ${ovfName} (expected ${base}${name.slice(name.lastIndexOf('.'))})`,
        );
      }
      if (role === 'file' && !this.#referenced.has(name)) {
        throw new OvaFormatError(name, `is not referenced by ${ovfName}`);
      }
      const ref = this.#referenced.get(name);
      if (ref?.size !== undefined && ref.size !== size) {
        throw new OvaFormatError(name, `is ${size} bytes but ${ovfName} says ${ref.size}`);
      }
      if (role === 'mf' && size > MAX_OVF_BYTES) throw new OvaFormatError(name, 'is too large for a manifest');
    }
    const want = this.#expected?.get(name);
    if (this.#expected && !want) throw new OvaFormatError(name, 'is not in the signed manifest');
    if (want && want.size !== size) {
      throw new ChecksumMismatchError(`OVA entry ${JSON.stringify(name)}`, String(want.size), String(size), 'size');
    }
    this.#open = { name, size };
    return {
      role,
      small: role === 'ovf' || role === 'mf',
      sha1: !this.#mf || this.#mf.get(name)?.algorithm === 'sha1',
    };
  }

  /** The text of a descriptor entry (`small`), read whole: its content decides what may follow. */
  descriptor(name: string, role: OvaEntryRole, text: string): void {
    if (role === 'ovf') {
      this.#ovfName = name;
      this.#references = parseOvfReferences(name, text);
      this.#referenced = new Map(this.#references.map((r) => [r.href, r]));
      for (const r of this.#references) checkEntryName(r.href);
    } else {
      this.#mfName = name;
      this.#mf = parseMf(name, text);
    }
  }

  /** The entry's bytes were read: `bytes` of them, with these digests (hex). */
  end(name: string, role: OvaEntryRole, bytes: number, sha256: string, sha1: string | undefined): void {
    const size = this.#open?.name === name ? this.#open.size : Number.NaN;
    this.#open = undefined;
    if (bytes !== size) throw new OvaFormatError(name, `is truncated: ${bytes} of ${size} bytes`);
    const want = this.#expected?.get(name);
    if (want && want.sha256 !== sha256) {
      throw new ChecksumMismatchError(`OVA entry ${JSON.stringify(name)} (per signed manifest)`, want.sha256, sha256);
    }
    if (role === 'mf') {
      // Entries read before the .mf (at least the .ovf) are checked now.
      for (const f of this.#files) this.#checkAgainstMf(f.name, f.sha256, this.#sha1Before.get(f.name));
    } else if (role !== 'cert') {
      if (!this.#mf && sha1) this.#sha1Before.set(name, sha1);
      this.#checkAgainstMf(name, sha256, sha1);
    }
    const file = { name, size, sha256 };
    this.#seen.set(name, file);
    this.#files.push(file);
  }

  /** The archive ended: everything referenced and listed must have been in it. */
  finish(): OvaSummary {
    const ovfName = this.#ovfName;
    const mf = this.#mf;
    if (ovfName === undefined) throw new OvaFormatError(undefined, 'the archive has no entries (is it an OVA?)');
    if (!mf || !this.#mfName)
      throw new OvaFormatError(undefined, `no manifest (.mf) next to ${ovfName}: build the OVA with one`);
    for (const ref of this.#references) {
      if (!this.#seen.has(ref.href))
        throw new OvaFormatError(ref.href, `is referenced by ${ovfName} but missing from the archive`);
    }
    for (const name of mf.keys()) {
      if (!this.#seen.has(name))
        throw new OvaFormatError(name, `is listed in ${this.#mfName} but missing from the archive`);
    }
    for (const f of this.#expectedFiles) {
      if (!this.#seen.has(f.name))
        throw new OvaFormatError(f.name, 'is in the signed manifest but missing from the archive');
    }
    return { ovf: ovfName, mf: this.#mfName, references: this.#references, files: this.#files };
  }

  #checkAgainstMf(name: string, sha256: string, sha1: string | undefined): void {
    const mf = this.#mf;
    if (!mf) return;
    const line = mf.get(name);
    if (!line) throw new OvaFormatError(name, `is not listed in ${this.#mfName}`);
    const actual = line.algorithm === 'sha256' ? sha256 : sha1;
    if (actual !== undefined && actual !== line.digest) {
      throw new ChecksumMismatchError(
        `OVA entry ${JSON.stringify(name)} (per ${this.#mfName})`,
        line.digest,
        actual,
        line.algorithm,
      );
    }
  }
}
