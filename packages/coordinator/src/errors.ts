import { FerryError, InvalidNameError, LocalPathError } from '@ferry/shared';

/** The command line was wrong (unknown option, missing argument, contradictory flags): exit code 2. */
export class UsageError extends FerryError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

/** `name@version` is not in the catalog. */
export class ImageNotFoundError extends FerryError {
  constructor(
    readonly imageName: string,
    readonly version: string,
  ) {
    super('IMAGE_NOT_FOUND', `${imageName}@${version} is not in the catalog (see: ferry status ${imageName})`);
  }
}

/** `ferry status NAME` / `--site S` named something no catalog entry, record or agent knows. */
export class StatusFilterError extends FerryError {
  constructor(message: string) {
    super('NOT_FOUND', message);
  }
}

/** Publishing would silently change the bytes of a published version. */
export class PublishConflictError extends FerryError {
  constructor(message: string) {
    super('PUBLISH_CONFLICT', message);
  }
}

/** A local file the command needs (`path`) cannot be read. */
export class InputFileError extends LocalPathError {
  constructor(file: string, message: string, options?: { cause?: unknown }) {
    super('INPUT_FILE', file, message, options);
  }
}

/** `ferry resign` could not re-sign some manifests (each is listed in its output). */
export class ResignIncompleteError extends FerryError {
  constructor(readonly failed: number) {
    super('RESIGN_INCOMPLETE', `${failed} manifest(s) were not re-signed (see above); run ferry resign again`);
  }
}

/** `republish` of a retired version: the catalog's state, not the command line, is in the way. */
export class ImageRetiredError extends FerryError {
  constructor(message: string) {
    super('IMAGE_RETIRED', message);
  }
}

/** The operator stopped the command (Ctrl-C, SIGTERM); what it had started was undone. */
export class InterruptedError extends FerryError {
  constructor(message: string) {
    super('INTERRUPTED', message);
  }
}

/** A command named a site that never reported (no heartbeat, no status record). */
export class UnknownSiteError extends FerryError {
  constructor(
    readonly site: string,
    readonly known: readonly string[],
    hint: string,
  ) {
    const list = known.length > 0 ? `known sites: ${known.join(', ')}` : 'no site has reported yet';
    super('UNKNOWN_SITE', `unknown site ${JSON.stringify(site)} (${list}): ${hint}`);
  }
}

/** `ferry sites remove` of a site whose agent still sends heartbeats. */
export class SiteActiveError extends FerryError {
  constructor(message: string) {
    super('SITE_ACTIVE', message);
  }
}

/**
 * Exit code for an error: 2 when the command line is wrong (its shape, or a value typed on it: a
 * name, version, site id, label or target that ferry refuses), 1 for everything else (the world:
 * not found, retired, conflicts, I/O). Commander's own parse errors exit 2 too.
 */
export function exitCodeOf(err: unknown): number {
  return err instanceof UsageError || err instanceof InvalidNameError ? 2 : 1;
}
