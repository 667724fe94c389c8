/**
 * The package's internals for its own tests and benches (as nats.js's `internal_mod.ts`): the
 * public API of index.ts plus the parts that are not part of it. Product code outside this
 * package imports index.ts only.
 */

export { type Access, refuseAccess, sameOrigin } from './http/request-access.js';
export * from './index.js';
export { rolloutDeps } from './rollout/rollout-deps.js';
export { planRollout, type RolloutAction, type SiteImageStatus } from './rollout/rollout-planner.js';
export { parseRolloutFlags, type RolloutHook, resolveRollout, rolloutHook } from './rollout/rollout-start.js';
export { unknownFilterReason } from './status/status-matrix.js';
export { createEventStreamHub } from './web/event-stream.js';
export { LiveStatus, type StatusPatch } from './web/live-status.js';
