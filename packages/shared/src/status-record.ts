import { z } from 'zod';
import { parserOf } from './schema-error.js';

export const JOB_STATES = [
  'pending',
  'downloading',
  'verifying',
  'importing',
  /** A deploy check of the imported item runs (only where `deployCheck.enabled`). */
  'checking',
  'ready',
  'failed',
  'retired',
] as const;
export type JobState = (typeof JOB_STATES)[number];
/** States after which an agent does not resume the job at start. */
export const FINAL_STATES: readonly JobState[] = ['ready', 'failed', 'retired'];

/** The last deploy check of the image's library item at this site. */
export const deployCheckRecordSchema = z.object({
  passed: z.boolean(),
  durationMs: z.number().nonnegative(),
  /** Moref value of the check VM, once deployed (it is deleted again). */
  vm: z.string().optional(),
  /** Why it failed, as vCenter (or the check) said. */
  error: z.string().optional(),
  /** When the check ended (ISO time). */
  at: z.string(),
});
export type DeployCheckRecord = z.infer<typeof deployCheckRecordSchema>;

export const statusRecordSchema = z.object({
  site: z.string(),
  name: z.string(),
  version: z.string(),
  sha256: z.string(),
  state: z.enum(JOB_STATES),
  bytesDone: z.number().nonnegative().default(0),
  bytesTotal: z.number().nonnegative().default(0),
  /**
   * While `importing` overlaps the download (the import follows the cache file as it fills):
   * bytes of the object in the cache so far, of the manifest's size. Absent otherwise.
   */
  bytesDownloaded: z.number().nonnegative().optional(),
  libraryItemId: z.string().optional(),
  error: z.object({ code: z.string(), message: z.string() }).optional(),
  attempts: z.number().int().nonnegative().default(0),
  /** publishedAt of the manifest this record is about (rollback defence compares it). */
  publishedAt: z.string().optional(),
  /**
   * The last event for this image that the agent refused (bad signature, rollback) while
   * keeping what it had: the refusal is shown without overwriting a good state.
   */
  lastRefusal: z
    .object({ code: z.string(), message: z.string(), at: z.string(), sha256: z.string().optional() })
    .optional(),
  /** A `republish --force` job: re-import even when the library already holds the sha256. */
  force: z.boolean().optional(),
  /** The last deploy check (optional: records of agents without the check stay valid). */
  check: deployCheckRecordSchema.optional(),
  /** When a failed job will be retried by the agent (ISO time), if it will. */
  retryAt: z.string().optional(),
  updatedAt: z.string(),
  agentVersion: z.string(),
});

export type StatusRecord = z.infer<typeof statusRecordSchema>;

export const parseStatusRecord = parserOf<StatusRecord>(statusRecordSchema, 'status record');

export function isFinalState(state: JobState): boolean {
  return FINAL_STATES.includes(state);
}
