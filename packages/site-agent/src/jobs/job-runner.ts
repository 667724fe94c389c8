import {
  ChecksumMismatchError,
  describeError,
  imageRef,
  isFinalState,
  isPermanentFailure,
  type Logger,
  type Manifest,
  retryDecision,
  type StatusRecord,
} from '@ferry/shared';
import { CheckStage, type ItemChecker } from '../deploy-check/check-stage.js';
import type { AgentMetrics } from '../runtime/agent-metrics.js';
import type { ImportRequest, ImportResult } from '../transfer/image-importer.js';
import { parseMarker } from '../transfer/item-marker.js';
import type { ContentLibrary, LibraryItemInfo } from '../vcenter/content-library.js';
import { decideRequest, type JobPhase, type JobSource, type RequestDecision } from './job-decision.js';
import type { StatusWriter } from './status-writer.js';

/** What the runner needs of the importer. */
export interface JobImporter {
  import(request: ImportRequest): Promise<ImportResult>;
  findItem(manifest: Pick<Manifest, 'name' | 'version'>): Promise<LibraryItemInfo | undefined>;
}

/** What the runner needs of the status writer. */
export type JobStatusStore = Pick<StatusWriter, 'current' | 'update' | 'progress'>;

export interface JobRunnerOptions {
  importer: JobImporter;
  library: Pick<ContentLibrary, 'deleteItem' | 'getItem' | 'updateItem'>;
  status: JobStatusStore;
  /** The site's deploy check, when enabled: imported items are checked before `ready`. */
  checker?: ItemChecker;
  metrics: AgentMetrics;
  log: Logger;
  retry: { maxAttempts: number; retryBaseMs: number; retryMaxMs: number };
  /** Called when a job has ended, whatever the outcome (the agent refreshes its heartbeat). */
  onSettled?: () => void;
  /** The site whose jobs these are (the `site` label of per-site metrics). */
  site?: string;
  /**
   * Keeps what a job needs (the cached file) while the job exists, retry waits included; the
   * returned function lets go when the job has ended.
   */
  hold?: (manifest: Manifest) => () => void;
  /** The verified manifest from the catalog (resume after a restart). */
  loadManifest(name: string, version: string): Promise<Manifest | undefined>;
}

/** The one job of an image at this site, from `pending` until it ends. */
interface Job {
  manifest: Manifest;
  force: boolean;
  attempts: number;
  phase: JobPhase;
  controller?: AbortController;
  /** Settles when the running attempt has finished, whatever the outcome. */
  done?: Promise<void>;
  timer?: NodeJS.Timeout;
  /** Another request for the image arrived while this one ran (other bytes, or forced): run it after. */
  again?: { manifest: Manifest; force: boolean };
  /** Set by retire(): the job ends without writing status (retire wrote `retired`). */
  retired?: { prune: boolean };
  /** Lets go of what `hold` kept for the job. */
  release?: () => void;
}

class ShutdownSignal extends Error {
  constructor() {
    super('agent shutting down');
  }
}

class RetiredSignal extends Error {
  constructor() {
    super('image retired');
  }
}

/**
 * Runs import jobs through the importer — one per image per site, ever in flight, whoever asks
 * (event, reconcile pass, resume at start) — keeps their status records, and retries transient
 * failures with backoff. Jobs are durable in the status bucket; `resume()` picks them up after a
 * restart. While the site is suspended, new jobs are recorded `pending` and wait.
 */
export class JobRunner {
  readonly #o: JobRunnerOptions;
  readonly #jobs = new Map<string, Job>();
  readonly #check: CheckStage;
  #accepting = true;
  #suspended = false;

  constructor(options: JobRunnerOptions) {
    this.#o = options;
    this.#check = new CheckStage({
      ...(options.checker ? { checker: options.checker } : {}),
      library: options.library,
      setStatus: (m, patch) => options.status.update(m.name, m.version, patch),
    });
  }

  /** Jobs running now (downloading or importing). */
  get running(): number {
    let n = 0;
    for (const job of this.#jobs.values()) if (job.phase === 'running') n++;
    return n;
  }

  /** Where the image's job is, if one is in flight. */
  inFlight(name: string, version: string): JobPhase | undefined {
    return this.#jobs.get(imageRef(name, version))?.phase;
  }

  /**
   * Asks for an import: records it `pending` and starts it, unless the image's job in flight
   * already covers it (see decideRequest). Resolves once the `pending` record is stored.
   */
  async request(manifest: Manifest, options: { force: boolean; source: JobSource }): Promise<RequestDecision> {
    const key = imageRef(manifest.name, manifest.version);
    const existing = this.#jobs.get(key);
    const decision = decideRequest(
      { sha256: manifest.sha256, force: options.force, source: options.source, retired: !!manifest.retiredAt },
      existing && { phase: existing.phase, sha256: existing.manifest.sha256 },
      this.#o.status.current(manifest.name, manifest.version),
      isPermanentFailure,
    );
    switch (decision.action) {
      case 'skip':
      case 'refuse':
        this.#o.log.debug({ image: key, source: options.source, reason: decision.reason }, 'import not started');
        return decision;
      case 'after-current':
        existing!.again = { manifest, force: options.force };
        return decision;
      case 'replace':
        this.#forget(key, existing!);
        break;
      case 'start':
        break;
    }
    // Registered before the first await: a request arriving meanwhile sees this job.
    const job: Job = { manifest, force: options.force, attempts: 0, phase: 'pending' };
    this.#track(key, job);
    await this.#o.status.update(manifest.name, manifest.version, {
      state: 'pending',
      sha256: manifest.sha256,
      publishedAt: manifest.publishedAt,
      bytesDone: 0,
      bytesTotal: manifest.size,
      attempts: 0,
      force: options.force || undefined,
      retryAt: undefined,
      libraryItemId: undefined,
      check: undefined,
    });
    if (this.#jobs.get(key) === job) this.#startUnlessHeld(job);
    return decision;
  }

  /** Resumes this site's unfinished jobs (and failed ones that were due a retry) after a restart. */
  async resume(records: readonly StatusRecord[]): Promise<number> {
    let resumed = 0;
    for (const r of records) {
      const due = !isFinalState(r.state) || (r.state === 'failed' && r.retryAt !== undefined);
      const key = imageRef(r.name, r.version);
      if (!due || this.#jobs.has(key)) continue;
      const manifest = await this.#o.loadManifest(r.name, r.version).catch((err: unknown) => {
        this.#o.log.warn({ image: key, err: describeError(err).message }, 'cannot load manifest to resume');
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
      if (manifest.retiredAt) {
        // Retired while this agent was down: the job ends here, not stuck `pending`.
        await this.#o.status.update(r.name, r.version, { state: 'retired', sha256: manifest.sha256 });
        this.#o.log.info({ image: key }, 'not resumed: the image was retired');
        continue;
      }
      if (this.#jobs.has(key)) continue;
      this.#o.log.info({ image: key, state: r.state }, 'resuming job');
      const job: Job = { manifest, force: r.force ?? false, attempts: r.attempts, phase: 'pending' };
      this.#track(key, job);
      this.#startUnlessHeld(job);
      resumed++;
    }
    return resumed;
  }

  /** While suspended, new and resumed jobs wait `pending`; running ones finish. Resuming starts them. */
  setSuspended(suspended: boolean): void {
    this.#suspended = suspended;
    if (suspended) return;
    for (const job of [...this.#jobs.values()]) if (job.phase === 'pending') this.#startUnlessHeld(job);
  }

  /**
   * Cancels the image's job, wherever it is, removes its item from the library (when pruning)
   * and marks it retired. A cancelled job writes nothing after this: `retired` is its last state.
   */
  async retire(manifest: Manifest, prune: boolean): Promise<void> {
    const key = imageRef(manifest.name, manifest.version);
    const job = this.#jobs.get(key);
    if (job?.phase === 'running') {
      job.retired = { prune };
      job.again = undefined;
      job.controller?.abort(new RetiredSignal());
    } else if (job) {
      this.#forget(key, job);
    }
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
    // Jobs not running are durable in their records (`pending`, or `failed` with retryAt): resumed at next start.
    for (const [key, job] of [...this.#jobs]) if (job.phase !== 'running') this.#forget(key, job);
    const all = () => Promise.all([...this.#jobs.values()].map((j) => j.done));
    const deadline = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
    if ((await Promise.race([all(), deadline])) === 'timeout') {
      this.#o.log.warn({ running: this.running }, 'grace period over; failing running imports');
      for (const job of this.#jobs.values()) job.controller?.abort(new ShutdownSignal());
      await all();
    }
  }

  /** Aborts everything at once (second SIGTERM). */
  abortAll(): void {
    this.#accepting = false;
    for (const job of this.#jobs.values()) job.controller?.abort(new ShutdownSignal());
  }

  #track(key: string, job: Job): void {
    job.release = this.#o.hold?.(job.manifest);
    this.#jobs.set(key, job);
  }

  #forget(key: string, job: Job): void {
    clearTimeout(job.timer);
    job.release?.();
    if (this.#jobs.get(key) === job) this.#jobs.delete(key);
  }

  #startUnlessHeld(job: Job): void {
    if (this.#suspended || !this.#accepting || job.phase !== 'pending') return;
    job.phase = 'running';
    job.controller = new AbortController();
    job.done = this.#run(job);
  }

  async #run(job: Job): Promise<void> {
    const { status, metrics, importer } = this.#o;
    const { manifest, force, controller } = job;
    const signal = controller!.signal;
    const key = imageRef(manifest.name, manifest.version);
    const log = this.#o.log.child({ image: key });
    const started = Date.now();
    try {
      const result = await importer.import({
        manifest,
        force,
        signal,
        onProgress: (p) => {
          // A cancelled job's progress must not overwrite what cancelled it.
          if (!signal.aborted) {
            status.progress(manifest.name, manifest.version, p.state, p.bytesDone, p.bytesTotal, p.bytesDownloaded);
          }
        },
      });
      if (job.retired) {
        await this.#finishedAfterRetire(job, result, log);
      } else {
        const check = await this.#check.run(manifest, result, signal, log);
        const total = manifest.files.reduce((s, f) => s + f.size, 0);
        await status.update(manifest.name, manifest.version, {
          state: 'ready',
          check,
          sha256: manifest.sha256,
          publishedAt: manifest.publishedAt,
          libraryItemId: result.itemId,
          bytesDone: total,
          bytesTotal: total,
          attempts: job.attempts + 1,
          force: undefined,
        });
        metrics.imports.inc({ result: result.skipped ? 'skipped' : 'ready' });
        metrics.siteImports.inc({ site: this.#o.site ?? '', result: result.skipped ? 'skipped' : 'ready' });
        metrics.jobDuration.observe({ result: 'ready' }, (Date.now() - started) / 1000);
        log.info({ itemId: result.itemId, skipped: result.skipped }, 'ready');
      }
      metrics.bytesDownloaded.inc(result.bytesDownloaded);
      metrics.bytesImported.inc(result.bytesUploaded);
    } catch (err) {
      const reason: unknown = signal.reason;
      if (reason instanceof ShutdownSignal) {
        // Not a failure: the job resumes when the agent starts again.
        await status.update(manifest.name, manifest.version, { state: 'pending' });
        log.info('interrupted by shutdown; will resume at next start');
      } else if (signal.aborted) {
        log.info({ reason: describeError(reason).message }, 'job cancelled');
      } else {
        await this.#failed(job, err, log);
        metrics.jobDuration.observe({ result: 'failed' }, (Date.now() - started) / 1000);
      }
    } finally {
      if (job.phase === 'running') this.#forget(key, job);
      this.#o.onSettled?.();
    }
    const again = job.again;
    if (again && this.#accepting && !this.#jobs.has(key)) {
      const next: Job = { manifest: again.manifest, force: again.force, attempts: 0, phase: 'pending' };
      this.#track(key, next);
      this.#startUnlessHeld(next);
    }
  }

  /** The import finished just as the image was retired: its new item goes too (when pruning). */
  async #finishedAfterRetire(job: Job, result: ImportResult, log: Logger): Promise<void> {
    if (job.retired?.prune && !result.skipped) {
      await this.#o.library.deleteItem(result.itemId);
      log.info({ itemId: result.itemId }, 'retired during import: library item deleted');
    } else {
      log.info('retired during import');
    }
  }

  async #failed(job: Job, err: unknown, log: Logger): Promise<void> {
    const { manifest, force } = job;
    const attempts = job.attempts + 1;
    const { code, message } = describeError(err);
    if (err instanceof ChecksumMismatchError) this.#o.metrics.checksumFailures.inc();
    this.#o.metrics.imports.inc({ result: 'failed' });
    this.#o.metrics.siteImports.inc({ site: this.#o.site ?? '', result: 'failed' });
    const { maxAttempts, retryBaseMs, retryMaxMs } = this.#o.retry;
    const decision = retryDecision(err, attempts, { maxAttempts, baseMs: retryBaseMs, maxMs: retryMaxMs });
    const delay = decision.retry && this.#accepting ? decision.delayMs : undefined;
    log.warn({ code, err: message, attempts, retryInMs: delay }, 'import failed');
    if (delay !== undefined) {
      // Still this image's one job: a reconcile pass meanwhile sees it waiting, not missing.
      job.phase = 'retry-wait';
      job.attempts = attempts;
      job.timer = setTimeout(() => void this.#retryNow(job), delay);
    }
    await this.#o.status.update(manifest.name, manifest.version, {
      state: 'failed',
      sha256: manifest.sha256,
      publishedAt: manifest.publishedAt,
      error: { code, message },
      attempts,
      force: force || undefined,
      retryAt: delay === undefined ? undefined : new Date(Date.now() + delay).toISOString(),
    });
  }

  async #retryNow(job: Job): Promise<void> {
    const { name, version } = job.manifest;
    if (this.#jobs.get(imageRef(name, version)) !== job || job.phase !== 'retry-wait') return;
    job.phase = 'pending';
    job.timer = undefined;
    await this.#o.status.update(name, version, { state: 'pending' });
    if (this.#jobs.get(imageRef(name, version)) === job) this.#startUnlessHeld(job);
  }
}
