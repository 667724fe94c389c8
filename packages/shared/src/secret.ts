import { inspect } from 'node:util';

/**
 * A secret value that refuses to be printed: JSON, string conversion and
 * util.inspect all give `[redacted]`. Call `reveal()` only where it is sent.
 */
export class Secret {
  readonly #value: string;
  /** Where the value came from (`vsphere.passwordFile /etc/…` or `FERRY_VSPHERE_PASSWORD`), for error messages. */
  readonly source: string | undefined;
  constructor(value: string, source?: string) {
    this.#value = value;
    this.source = source;
  }
  reveal(): string {
    return this.#value;
  }
  toString(): string {
    return '[redacted]';
  }
  toJSON(): string {
    return '[redacted]';
  }
  [inspect.custom](): string {
    return '[redacted]';
  }
}
