import type { StatusRecord } from '@ferry/shared';

/**
 * Where an image's one job is: recorded but not started (the site is suspended, or it starts
 * now), waiting for its retry timer, or running (downloading, importing). There is at most one
 * per image per site.
 */
export type JobPhase = 'pending' | 'retry-wait' | 'running';

export interface InFlightJob {
  phase: JobPhase;
  sha256: string;
}

/** Who asks for an import: an event (published, republish), a reconcile pass, or resume at start. */
export type JobSource = 'event' | 'reconcile' | 'resume';

export interface JobRequest {
  sha256: string;
  force: boolean;
  source: JobSource;
  /** The manifest says the image is retired: never imported. */
  retired: boolean;
}

export type RequestDecision =
  /** No job for the image: write `pending` and start it (or hold it while suspended). */
  | { action: 'start' }
  /** Cancel the retry timer or the job not yet started and start this request instead. */
  | { action: 'replace' }
  /** Run once the running job has ended (other bytes, or a forced re-import asked for by an operator). */
  | { action: 'after-current' }
  | { action: 'skip'; reason: string }
  /** Not imported, and the caller is told why (a reconcile pass lists it as an error). */
  | { action: 'refuse'; reason: string };

/** Codes of failures that another download of the same bytes cannot fix. */
export type IsPermanentFailure = (code: string) => boolean;

/**
 * What to do with a request to import an image, given the job already in flight for it (if any)
 * and its status record. Pure: the runner does the I/O. The rule it keeps: one job per image per
 * site, ever in flight — a reconcile pass treats any job in flight as the import under way.
 */
export function decideRequest(
  request: JobRequest,
  inFlight: InFlightJob | undefined,
  current: StatusRecord | undefined,
  isPermanent: IsPermanentFailure,
): RequestDecision {
  if (request.retired) return { action: 'skip', reason: 'the image is retired' };
  const sameBytes = inFlight?.sha256 === request.sha256;
  if (request.source === 'reconcile') {
    if (inFlight) return { action: 'skip', reason: `a job is already ${inFlight.phase}` };
    // Bytes proven bad (or that failed their deploy check here) stay failed until an operator
    // republishes: no re-download every pass.
    if (
      current?.state === 'failed' &&
      current.sha256 === request.sha256 &&
      (isPermanent(current.error?.code ?? '') || current.check?.passed === false)
    ) {
      return { action: 'refuse', reason: `left failed (${current.error?.code}); republish to retry` };
    }
    return { action: 'start' };
  }
  if (!inFlight) return { action: 'start' };
  // An event for an image waiting for its retry (e.g. `ferry republish`) tries again now.
  if (inFlight.phase === 'retry-wait') return { action: 'replace' };
  if (sameBytes && !request.force) return { action: 'skip', reason: `already ${inFlight.phase}` };
  return inFlight.phase === 'running' ? { action: 'after-current' } : { action: 'replace' };
}
