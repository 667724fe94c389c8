/** What the command modules (publish-cli.ts, rollout/rollout-cli.ts) get from the `ferry` program. */
import type { Writable } from 'node:stream';
import type { Option } from 'commander';
import type { CoordinatorContext } from '../coordinator-context.js';

export interface CommandHelpers {
  /** Opens NATS, topology and store for one command, and always closes them. */
  withContext<T>(configFile: string, fn: (ctx: CoordinatorContext) => Promise<T>): Promise<T>;
  /** A result on stdout. */
  out(text: string): void;
  /** A result on stdout as JSON. */
  json(value: unknown): void;
  /** `-c, --config <file>` with its default. */
  configOption(): Option;
  stdout: Writable;
  stderr: Writable;
  /** Aborts a running command (besides SIGINT/SIGTERM). */
  signal?: AbortSignal;
}

/** A repeatable option's values, in order. */
export const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];
