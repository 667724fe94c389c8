/**
 * The job's step after the import: the deploy check of the item, where the site has it enabled
 * (`importing → checking → ready`, or `failed` with DEPLOY_CHECK_FAILED). The item's ferry marker
 * says where its check is (`checking` while it runs, `checkFailed` after a failure), so a crash
 * during a check runs it again, and reconcile neither calls a failed item good nor re-imports it.
 */
import type { DeployCheckRecord, Logger, Manifest } from '@ferry/shared';
import { formatMarker, type ItemMarker, parseMarker } from '../transfer/item-marker.js';
import type { ContentLibrary } from '../vcenter/content-library.js';
import type { DeployCheckResult } from './deploy-check.js';

/** What the job needs to check one imported item (SiteDeployCheck; a fake in unit tests). */
export interface ItemChecker {
  check(item: { id: string; name: string }): Promise<DeployCheckResult>;
}

export type CheckStep =
  /** Run the deploy check now. */
  | 'check'
  /** Nothing to do: the item is good as it is. */
  | 'none'
  /** The check is off at this site: drop the marker's check flags (the item is accepted). */
  | 'clear-flags';

/**
 * After the import step: a new or re-imported item is checked; an item that was already there
 * (import skipped) only when its last check did not finish or failed (a republish retries it,
 * without downloading again). Pure.
 */
export function decideCheck(enabled: boolean, imported: boolean, marker: ItemMarker | undefined): CheckStep {
  const flagged = marker?.checking === true || marker?.checkFailed === true;
  if (!enabled) return flagged ? 'clear-flags' : 'none';
  return imported || flagged ? 'check' : 'none';
}

export interface CheckStageOptions {
  /** undefined: the deploy check is not enabled at this site. */
  checker?: ItemChecker;
  library: Pick<ContentLibrary, 'getItem' | 'updateItem'>;
  /** Writes the image's status record (state `checking`, the check result). */
  setStatus(
    manifest: Manifest,
    patch: { state?: 'checking'; libraryItemId?: string; check?: DeployCheckRecord },
  ): Promise<void>;
}

export interface ImportedItem {
  itemId: string;
  itemName: string;
  /** The library already held the bytes: nothing was imported this time. */
  skipped: boolean;
}

export class CheckStage {
  readonly #o: CheckStageOptions;

  constructor(options: CheckStageOptions) {
    this.#o = options;
  }

  /**
   * Runs the check when due and keeps the item's marker and status record. Resolves to the
   * check's record (for `ready`) or undefined when none ran; rejects with the DeployCheckError
   * of a failed check, or with `signal.reason` when the job is aborted meanwhile (the check
   * goes on to remove its VM; a crash leaves it for cleanupLeftovers at the next start).
   */
  async run(
    manifest: Manifest,
    item: ImportedItem,
    signal: AbortSignal,
    log: Logger,
  ): Promise<DeployCheckRecord | undefined> {
    const { checker, library } = this.#o;
    if (!checker && !item.skipped) return undefined; // a fresh marker carries no check flags
    const marker = item.skipped ? parseMarker((await library.getItem(item.itemId))?.description) : undefined;
    const step = decideCheck(checker !== undefined, !item.skipped, marker);
    if (step === 'none') return undefined;
    const base: ItemMarker = {
      name: manifest.name,
      version: manifest.version,
      sha256: manifest.sha256,
      publishedAt: manifest.publishedAt,
    };
    if (step === 'clear-flags' || !checker) {
      await library.updateItem(item.itemId, { description: formatMarker(base) });
      log.info({ itemId: item.itemId }, 'deploy check is off here: the earlier check flag is cleared');
      return undefined;
    }
    await library.updateItem(item.itemId, { description: formatMarker({ ...base, checking: true }) });
    await this.#o.setStatus(manifest, { state: 'checking', libraryItemId: item.itemId, check: undefined });
    const running = checker.check({ id: item.itemId, name: item.itemName });
    const result = await untilAborted(running, signal, log);
    const record: DeployCheckRecord = {
      passed: result.passed,
      durationMs: result.durationMs,
      at: new Date().toISOString(),
      ...(result.vm === undefined ? {} : { vm: result.vm }),
      ...(result.error ? { error: result.error.message } : {}),
    };
    if (result.passed) {
      await library.updateItem(item.itemId, { description: formatMarker(base) });
      return record;
    }
    await library.updateItem(item.itemId, { description: formatMarker({ ...base, checkFailed: true }) });
    await this.#o.setStatus(manifest, { check: record });
    throw result.error;
  }
}

/** The check's result, or `signal.reason` as soon as the job is aborted (the check still ends and is logged). */
function untilAborted(
  running: Promise<DeployCheckResult>,
  signal: AbortSignal,
  log: Logger,
): Promise<DeployCheckResult> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      running.then(
        (r) => log.info({ passed: r.passed, vm: r.vm }, 'deploy check of a cancelled job ended'),
        (err: unknown) => log.warn({ err: (err as Error).message }, 'deploy check of a cancelled job failed'),
      );
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    running.then(
      (r) => {
        signal.removeEventListener('abort', onAbort);
        resolve(r);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
