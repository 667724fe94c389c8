import {
  backoffDelay,
  ChecksumMismatchError,
  describeError,
  imageRef,
  isFinalState,
  isRetryable,
  type Logger,
  type Manifest,
  type StatusRecord,
} from '@ferry/shared';
import type { AgentMetrics } from './agent-metrics.js';
import type { ContentLibraryClient } from './content-library-client.js';
import type { ImageImporter } from './image-importer.js';
import { parseMarker } from './item-marker.js';
import type { StatusWriter } from './status-writer.js';

export interface JobRunnerOptions {
  importer: ImageImporter;
  library: ContentLibraryClient;
  status: StatusWriter;
  metrics: AgentMetrics;
  log: Logger;
  retry: { maxAttempts: number; retryBaseMs: number; retryMaxMs: number };
  /** Called when a job has ended, whatever the outcome (the agent refreshes its heartbeat). */
  onSettled?: () => void;
  /** The verified manifest from the catalog (resume after a restart). */
  loadManifest(name: string, version: string): Promise<Manifest | undefined>;
}

interface ActiveJob {
  manifest: Manifest;
  controller: AbortController;
  /** Settles when the job has finished, whatever the outcome. */
  done: Promise<void>;
  /** Another request for the same image arrived while this one ran: run it after. */
  again?: { manifest: Manifest; force: boolean };
}

class ShutdownSignal extends Error {
  constructor() {
    super('agent shutting down');
  }
}

/**
 * Runs import jobs (one per image version at a time) through the importer, keeps
 * their status records, and retries transient failures with backoff. Jobs are
 * durable in the status bucket; `resume()` picks them up after a restart.
 */
export class JobRunner {
  readonly #o: JobRunnerOptions;
  readonly #active = new Map<string, ActiveJob>();
  readonly #retryTimers = new Map<string, NodeJS.Timeout>();
  #accepting = true;

  constructor(options: JobRunnerOptions) {
    this.#o = options;
  }

  get running(): number {
    return this.#active.size;
  }

  isActive(name: string, version: string): boolean {
    return this.#active.has(imageRef(name, version));
  }

  /** Starts (or queues behind a running one) an import whose `pending` status is already stored. */
  submit(manifest: Manifest, options: { force?: boolean; attempts?: number } = {}): void {
    if (!this.#accepting) return;
    const key = imageRef(manifest.name, manifest.version);
    const timer = this.#retryTimers.get(key);
    if (timer) {
      clearTimeout(timer);
      this.#retryTimers.delete(key);
    }
    const active = this.#active.get(key);
    if (active) {
      if (active.manifest.sha256 !== manifest.sha256 || options.force)
        active.again = { manifest, force: !!options.force };
      return;
    }
    void this.#run(manifest, !!options.force, options.attempts ?? 0);
  }

  /** Resumes this site's unfinished jobs (and failed ones that were due a retry) after a restart. */
  async resume(records: readonly StatusRecord[]): Promise<number> {
    let resumed = 0;
    for (const r of records) {
      const due = !isFinalState(r.state) || (r.state === 'failed' && r.retryAt !== undefined);
      if (!due) continue;
      const manifest = await this.#o.loadManifest(r.name, r.version).catch((err: unknown) => {
        this.#o.log.warn(
          { image: imageRef(r.name, r.version), err: describeError(err).message },
          'cannot load manifest to resume',
        );
        return undefined;
      });
      if (!manifest) {
        await this.#o.status.update(r.name, r.version, {
          state: 'failed',
          error: {
            code: 'MANIFEST_MISSING',
            message: 'the catalog has no valid manifest for this image; publish it again',
          },
        });
        continue;
      }
      this.#o.log.info({ image: imageRef(r.name, r.version), state: r.state }, 'resuming job');
      this.submit(manifest, { force: r.force, attempts: r.attempts });
      resumed++;
    }
    return resumed;
  }

  /** Removes the image's item from the library (when pruning) and marks it retired. */
  async retire(manifest: Manifest, prune: boolean): Promise<void> {
    const key = imageRef(manifest.name, manifest.version);
    this.#active.get(key)?.controller.abort(new Error('image retired'));
    clearTimeout(this.#retryTimers.get(key));
    this.#retryTimers.delete(key);
    let libraryItemId: string | undefined;
    if (prune) {
      const item = await this.#o.importer.findItem(manifest);
      const marker = parseMarker(item?.description);
      if (item && marker?.name === manifest.name && marker.version === manifest.version) {
        await this.#o.library.deleteItem(item.id);
        this.#o.log.info({ image: key, itemId: item.id }, 'retired: library item deleted');
      }
    } else {
      libraryItemId = (await this.#o.importer.findItem(manifest))?.id;
    }
    await this.#o.status.update(manifest.name, manifest.version, {
      state: 'retired',
      sha256: manifest.sha256,
      libraryItemId,
    });
  }

  /** Stops taking jobs; waits up to `graceMs` for running ones, then aborts them (their sessions are failed cleanly). */
  async drain(graceMs: number): Promise<void> {
    this.#accepting = false;
    for (const t of this.#retryTimers.values()) clearTimeout(t);
    this.#retryTimers.clear();
    const all = () => Promise.all([...this.#active.values()].map((j) => j.done));
    const deadline = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
    if ((await Promise.race([all(), deadline])) === 'timeout') {
      this.#o.log.warn({ running: this.#active.size }, 'grace period over; failing running imports');
      for (const job of this.#active.values()) job.controller.abort(new ShutdownSignal());
      await all();
    }
  }

  /** Aborts everything at once (second SIGTERM). */
  abortAll(): void {
    this.#accepting = false;
    for (const job of this.#active.values()) job.controller.abort(new ShutdownSignal());
  }

  async #run(manifest: Manifest, force: boolean, attempts: number): Promise<void> {
    const { status, metrics, importer } = this.#o;
    const key = imageRef(manifest.name, manifest.version);
    const log = this.#o.log.child({ image: key });
    const controller = new AbortController();
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => {
      resolveDone = r;
    });
    const job: ActiveJob = { manifest, controller, done };
    this.#active.set(key, job);
    const started = Date.now();
    try {
      const result = await importer.import({
        manifest,
        force,
        signal: controller.signal,
        onProgress: (p) =>
          status.progress(manifest.name, manifest.version, p.state, p.bytesDone, p.bytesTotal, p.bytesDownloaded),
      });
      const total = manifest.files.reduce((s, f) => s + f.size, 0);
      await status.update(manifest.name, manifest.version, {
        state: 'ready',
        sha256: manifest.sha256,
        publishedAt: manifest.publishedAt,
        libraryItemId: result.itemId,
        bytesDone: total,
        bytesTotal: total,
        attempts: attempts + 1,
        force: undefined,
      });
      metrics.bytesDownloaded.inc(result.bytesDownloaded);
      metrics.bytesImported.inc(result.bytesUploaded);
      metrics.imports.inc({ result: result.skipped ? 'skipped' : 'ready' });
      metrics.jobDuration.observe({ result: 'ready' }, (Date.now() - started) / 1000);
      log.info({ itemId: result.itemId, skipped: result.skipped }, 'ready');
    } catch (err) {
      const reason = controller.signal.reason;
      if (reason instanceof ShutdownSignal) {
        // Not a failure: the job resumes when the agent starts again.
        await status.update(manifest.name, manifest.version, { state: 'pending' });
        log.info('interrupted by shutdown; will resume at next start');
      } else if (controller.signal.aborted) {
        log.info({ reason: describeError(reason).message }, 'job cancelled');
      } else {
        await this.#failed(manifest, force, attempts + 1, err, log);
        metrics.jobDuration.observe({ result: 'failed' }, (Date.now() - started) / 1000);
      }
    } finally {
      this.#active.delete(key);
      resolveDone();
      this.#o.onSettled?.();
    }
    if (job.again && this.#accepting) this.submit(job.again.manifest, { force: job.again.force });
  }

  async #failed(manifest: Manifest, force: boolean, attempts: number, err: unknown, log: Logger): Promise<void> {
    const { code, message } = describeError(err);
    if (err instanceof ChecksumMismatchError) this.#o.metrics.checksumFailures.inc();
    this.#o.metrics.imports.inc({ result: 'failed' });
    const retry = isRetryable(err) && attempts < this.#o.retry.maxAttempts && this.#accepting;
    const delay = retry
      ? backoffDelay(attempts, { baseMs: this.#o.retry.retryBaseMs, maxMs: this.#o.retry.retryMaxMs })
      : undefined;
    log.warn({ code, err: message, attempts, retryInMs: delay }, 'import failed');
    await this.#o.status.update(manifest.name, manifest.version, {
      state: 'failed',
      sha256: manifest.sha256,
      publishedAt: manifest.publishedAt,
      error: { code, message },
      attempts,
      force: force || undefined,
      retryAt: delay === undefined ? undefined : new Date(Date.now() + delay).toISOString(),
    });
    if (delay !== undefined) {
      const key = imageRef(manifest.name, manifest.version);
      const timer = setTimeout(() => {
        this.#retryTimers.delete(key);
        if (!this.#accepting) return;
        void this.#o.status
          .update(manifest.name, manifest.version, { state: 'pending' })
          .then(() => this.submit(manifest, { force, attempts }));
      }, delay);
      this.#retryTimers.set(key, timer);
    }
  }
}
