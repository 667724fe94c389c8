import { type BackoffPolicy, backoffDelay, describeError, type Logger, sleep } from '@ferry/shared';

/** One entry of a KV watch (what the agent reads of it). */
export interface WatchEntry {
  operation: string;
  length: number;
  json(): unknown;
}

/** A running KV watch: entries until it is stopped, or until its consumer or connection is lost. */
export interface WatchIterator extends AsyncIterable<WatchEntry> {
  stop(): void;
}

export interface ControlWatchOptions {
  /** Opens a watch that yields the key's current value first, then every change. */
  open(): Promise<WatchIterator>;
  /** Called with each value put on the key. */
  apply(value: unknown): void;
  log: Logger;
  /** Delay between attempts to watch again; default 0.5 s doubling up to 30 s. */
  backoff?: BackoffPolicy;
}

/**
 * Keeps a watch on the site's `_control` key for as long as the agent runs: a watch that ends or
 * fails (lost consumer, broker gone for long) is logged and opened again with backoff, so the
 * agent never silently stops obeying `ferry suspend`. Each new watch starts from the current
 * value, so a change made while no watch ran is applied too.
 */
export class ControlWatch {
  readonly #o: ControlWatchOptions;
  readonly #stop = new AbortController();
  #current: WatchIterator | undefined;
  #loop: Promise<void> | undefined;

  constructor(options: ControlWatchOptions) {
    this.#o = options;
  }

  start(): void {
    this.#loop ??= this.#run();
  }

  async stop(): Promise<void> {
    this.#stop.abort();
    this.#current?.stop();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const { log } = this.#o;
    const backoff = this.#o.backoff ?? { baseMs: 500, maxMs: 30_000 };
    let failures = 0;
    while (!this.#stop.signal.aborted) {
      try {
        this.#current = await this.#o.open();
        if (this.#stop.signal.aborted) this.#current.stop();
        for await (const entry of this.#current) {
          failures = 0;
          this.#apply(entry);
        }
        if (this.#stop.signal.aborted) return;
        log.warn('suspend/resume watch ended; watching again');
      } catch (err) {
        if (this.#stop.signal.aborted) return;
        log.warn({ err: describeError(err).message }, 'suspend/resume watch failed; watching again');
      }
      failures++;
      try {
        await sleep(backoffDelay(failures, backoff), this.#stop.signal);
      } catch {
        return; // stopped while waiting
      }
    }
  }

  #apply(entry: WatchEntry): void {
    if (entry.operation !== 'PUT' || entry.length === 0) return;
    try {
      this.#o.apply(entry.json());
    } catch (err) {
      // A bad value is skipped, not a reason to drop the watch.
      this.#o.log.warn({ err: describeError(err).message }, 'unreadable suspend/resume value ignored');
    }
  }
}
