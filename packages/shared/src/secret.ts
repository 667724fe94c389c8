import { inspect } from 'node:util';

/**
 * A secret value that refuses to be printed: JSON, string conversion and
 * util.inspect all give `[redacted]`. Call `reveal()` only where it is sent.
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
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
