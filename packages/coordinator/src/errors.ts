import { FerryError } from '@ferry/shared';

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

/** Publishing would silently change the bytes of a published version. */
export class PublishConflictError extends FerryError {
  constructor(message: string) {
    super('PUBLISH_CONFLICT', message);
  }
}

/** A local file the command needs cannot be read. */
export class InputFileError extends FerryError {
  constructor(
    readonly file: string,
    message: string,
    options: { cause?: unknown } = {},
  ) {
    super('INPUT_FILE', message, options);
  }
}

/** `ferry resign` could not re-sign some manifests (each is listed in its output). */
export class ResignIncompleteError extends FerryError {
  constructor(readonly failed: number) {
    super('RESIGN_INCOMPLETE', `${failed} manifest(s) were not re-signed (see above); run ferry resign again`);
  }
}

/** Exit code for an error: 2 for usage errors, 1 for everything else. */
export function exitCodeOf(err: unknown): number {
  return err instanceof UsageError ? 2 : 1;
}
