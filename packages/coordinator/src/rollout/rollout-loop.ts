/**
 * The coordinator daemon's rollout loop: one pass drives every active rollout (not done, not
 * halted) as far as it goes. Passes run at start (a restarted coordinator picks up where the
 * state in `ferry_rollouts` says), whenever a status record or a rollout record changes (KV
 * watches), when the earliest soak ends (a timer), and every `intervalMs` as a safety net for a
 * missed watch update. Passes never overlap; changes during a pass cause one more pass.
 */
import { describeError, type Logger } from '@ferry/shared';
import { KvWatchInclude } from '@nats-io/kv';
import { driveQuietly, type RolloutDriverDeps } from './rollout-driver.js';

export interface RolloutLoopOptions {
  /** Safety-net pass interval (default 30 s). */
  intervalMs?: number;
  /** Changes within this window are handled by one pass (default 200 ms). */
  debounceMs?: number;
}

export class RolloutLoop {
  readonly #deps: RolloutDriverDeps;
  readonly #log: Logger | undefined;
  readonly #intervalMs: number;
  readonly #debounceMs: number;
  #running: Promise<void> | undefined;
  #again = false;
  #stopped = false;
  #debounce: NodeJS.Timeout | undefined;
  #wake: NodeJS.Timeout | undefined;
  #interval: NodeJS.Timeout | undefined;
  readonly #watches: Array<{ stop(): void }> = [];

  constructor(deps: RolloutDriverDeps, options: RolloutLoopOptions = {}) {
    this.#deps = deps;
    this.#log = deps.logger?.child({ component: 'rollouts' });
    this.#intervalMs = options.intervalMs ?? 30_000;
    this.#debounceMs = options.debounceMs ?? 200;
  }

  async start(): Promise<void> {
    const { topology } = this.#deps;
    for (const kv of [topology.status, this.#deps.rollouts.kv]) {
      const watch = await kv.watch({ include: KvWatchInclude.UpdatesOnly });
      this.#watches.push(watch);
      void (async () => {
        for await (const _ of watch) this.poke();
      })().catch((err: unknown) => this.#log?.warn({ err: describeError(err).message }, 'rollout watch ended'));
    }
    this.#interval = setInterval(() => this.poke(), this.#intervalMs);
    this.#interval.unref();
    await this.runPass();
  }

  /** Asks for a pass soon (coalescing bursts of changes). */
  poke(): void {
    if (this.#stopped || this.#debounce) return;
    this.#debounce = setTimeout(() => {
      this.#debounce = undefined;
      void this.runPass();
    }, this.#debounceMs);
  }

  /** One pass now, or one more after the pass under way. */
  runPass(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = this.#pass().finally(() => {
      this.#running = undefined;
      if (this.#again && !this.#stopped) {
        this.#again = false;
        void this.runPass();
      }
    });
    return this.#running;
  }

  async #pass(): Promise<void> {
    let records: Awaited<ReturnType<RolloutDriverDeps['rollouts']['list']>>;
    try {
      records = await this.#deps.rollouts.list((key, err) =>
        this.#log?.warn({ key, err: err.message }, 'invalid rollout record skipped'),
      );
    } catch (err) {
      this.#log?.warn({ err: describeError(err).message }, 'cannot list rollouts; next pass retries');
      return;
    }
    let earliest = Number.POSITIVE_INFINITY;
    for (const r of records) {
      if (this.#stopped) return;
      if (r.halt || r.doneAt) continue;
      const action = await driveQuietly(this.#deps, r.name, r.version);
      if (action?.kind === 'wait' && action.until !== undefined) earliest = Math.min(earliest, action.until);
    }
    clearTimeout(this.#wake);
    if (Number.isFinite(earliest) && !this.#stopped) {
      // A soak ends: nothing else would wake the loop then.
      this.#wake = setTimeout(() => this.poke(), Math.max(0, earliest - Date.now()) + 50);
      this.#wake.unref();
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#debounce);
    clearTimeout(this.#wake);
    clearInterval(this.#interval);
    for (const w of this.#watches) w.stop();
    await this.#running;
  }
}
