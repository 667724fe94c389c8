/** Everything of the site agent, public or not: what its tests and the benchmarks import (`@ferry/site-agent/internal`). */

export {
  CheckStage,
  type CheckStageOptions,
  type CheckStep,
  decideCheck,
  type ImportedItem,
  type ItemChecker,
} from './deploy-check/check-stage.js';
export {
  checkVmPrefix,
  cleanupLeftovers,
  DEPLOY_CHECK_PREFIX,
  DeployCheckError,
  type DeployCheckOptions,
  type DeployCheckResult,
  runDeployCheck,
} from './deploy-check/deploy-check.js';
export { type OvfExpectations, ovfExpectations } from './deploy-check/ovf-expectations.js';
export { SiteDeployCheck, type SiteDeployCheckOptions } from './deploy-check/site-deploy-check.js';
export {
  VimClient,
  type VimClientOptions,
  type VmInventory,
  type VmState,
  type VmSummary,
} from './deploy-check/vim-client.js';
export { ItemConflictError, UpdateSessionError, VsphereAuthError, VsphereError } from './errors.js';
export { ControlWatch, type ControlWatchOptions, type WatchEntry, type WatchIterator } from './events/control-watch.js';
export { EventConsumer, type EventConsumerOptions, type MessageOutcome } from './events/event-consumer.js';
export {
  type DecisionContext,
  decideEvent,
  decodeEvent,
  type EventDecision,
  rollbackReason,
} from './events/event-decision.js';
export {
  decideRequest,
  type InFlightJob,
  type JobPhase,
  type JobRequest,
  type JobSource,
  type RequestDecision,
} from './jobs/job-decision.js';
export { type JobImporter, JobRunner, type JobRunnerOptions, type JobStatusStore } from './jobs/job-runner.js';
export { type StatusPatch, StatusWriter } from './jobs/status-writer.js';
export { POLL_INTERVALS, pollUntil } from './poll.js';
export {
  type ActualItem,
  countActions,
  planReconcile,
  type ReconcileAction,
  type ReconcileInput,
} from './reconcile/reconcile-plan.js';
export {
  type ReconcileExecutor,
  Reconciler,
  type ReconcilerOptions,
  type ReconcileTrigger,
} from './reconcile/reconciler.js';
export { type CheckResult, runChecks } from './runtime/agent-check.js';
export { type AgentHttp, type ReadinessCheck, startAgentHttp } from './runtime/agent-http.js';
export { type AgentMetrics, createAgentMetrics } from './runtime/agent-metrics.js';
export {
  type AgentRuntime,
  createAgentRuntime,
  createLibraryClient,
  createSiteDeployCheck,
  createVimClient,
  type TargetRuntime,
} from './runtime/agent-runtime.js';
export { buildAgentProgram, runAgentCli } from './runtime/cli.js';
export { bandwidthLimits, SiteAgent, type SiteAgentOptions } from './runtime/site-agent.js';
export { SiteTarget, type ZoneContext } from './runtime/site-target.js';
export { AGENT_VERSION } from './runtime/version.js';
export {
  type ArtifactRef,
  type CachedImage,
  DownloadCache,
  type DownloadCacheOptions,
  type FetchOptions,
  type ImageCache,
} from './transfer/download-cache.js';
export { GrowingFile, type GrowingFileReader, type ReadableGrowingFile } from './transfer/growing-file.js';
export {
  ImageImporter,
  type ImageImporterOptions,
  type ImportProgress,
  type ImportRequest,
  type ImportResult,
} from './transfer/image-importer.js';
export { formatMarker, type ItemMarker, parseMarker } from './transfer/item-marker.js';
export { type EntryProof, type OvaProof, OvaProofs } from './transfer/ova-proofs.js';
export { OvaProver, type ProverEntry } from './transfer/ova-prover.js';
export { type PullFile, type PullRegistration, PullServer, type PullServerOptions } from './transfer/pull-server.js';
export { checkThumbprint, PullTransferError, pullIntoSession } from './transfer/pull-transfer.js';
export {
  DEFAULT_SYNC_TIMEOUT_MS,
  type EnsuredSubscription,
  type EnsureSubscriptionOptions,
  ensureSubscription,
  expectedFilesOf,
  type SubscribedItemRef,
  type SubscribedItemReport,
  SubscriptionError,
  type SubscriptionErrorCode,
  type SyncItemOptions,
  subscribedItemState,
  syncItem,
} from './transfer/subscription.js';
export { getLibrary, type LibraryInfo, type SubscriptionSpec } from './transfer/subscription-api.js';
export {
  type ExpectedFile,
  judgeSubscribedItem,
  planSubscription,
  type SubscribedItemState,
  type SubscribedItemVerdict,
  type SubscriptionPlan,
} from './transfer/subscription-verdict.js';
export { TokenBucket, throttle, throttledSink } from './transfer/token-bucket.js';
export { TransferQueues } from './transfer/transfer-queues.js';
export type {
  ContentLibrary,
  LibraryFileInfo,
  LibraryItemInfo,
  LibraryUpdateSession,
  UpdateSessionFileInfo,
  UpdateSessionInfo,
  UploadBody,
} from './vcenter/content-library.js';
export {
  ContentLibraryClient,
  type ContentLibraryClientOptions,
  MANAGED_BY_FERRY,
  UpdateSession,
} from './vcenter/content-library-client.js';
