export { type CheckResult, runChecks } from './agent-check.js';
export { type AgentHttp, type ReadinessCheck, startAgentHttp } from './agent-http.js';
export { AgentMetrics } from './agent-metrics.js';
export { type AgentRuntime, createAgentRuntime, createLibraryClient } from './agent-runtime.js';
export { buildAgentProgram, runAgentCli } from './cli.js';
export {
  ContentLibraryClient,
  type ContentLibraryClientOptions,
  type LibraryFileInfo,
  type LibraryItemInfo,
  UpdateSession,
  type UpdateSessionInfo,
} from './content-library-client.js';
export {
  type ArtifactRef,
  type CachedImage,
  DownloadCache,
  type DownloadCacheOptions,
  type FetchOptions,
} from './download-cache.js';
export { ItemConflictError, UpdateSessionError, VsphereAuthError, VsphereError } from './errors.js';
export { EventConsumer, type EventConsumerOptions, type MessageOutcome } from './event-consumer.js';
export {
  type DecisionContext,
  decideEvent,
  decodeEvent,
  type EventDecision,
  rollbackReason,
} from './event-decision.js';
export {
  ImageImporter,
  type ImageImporterOptions,
  type ImportProgress,
  type ImportRequest,
  type ImportResult,
} from './image-importer.js';
export { formatMarker, type ItemMarker, parseMarker } from './item-marker.js';
export { JobRunner, type JobRunnerOptions } from './job-runner.js';
export {
  type ActualItem,
  countActions,
  planReconcile,
  type ReconcileAction,
  type ReconcileInput,
} from './reconcile-plan.js';
export { type ReconcileExecutor, Reconciler, type ReconcilerOptions, type ReconcileTrigger } from './reconciler.js';
export { SiteAgent, type SiteAgentOptions } from './site-agent.js';
export { type StatusPatch, StatusWriter } from './status-writer.js';
export { TransferQueues } from './transfer-queues.js';
export { AGENT_VERSION } from './version.js';
