export { type CliIo, runCli } from './cli-program.js';
export {
  type CoordinatorContext,
  type NatsConnection,
  type OpenContextOptions,
  defaultConfigFile,
  openContext,
  openContextFromFile,
} from './coordinator-context.js';
export {
  type CoordinatorDaemon,
  type CoordinatorDaemonOptions,
  runCoordinator,
  startCoordinator,
} from './coordinator-daemon.js';
export { ImageNotFoundError, InputFileError, PublishConflictError, UsageError, exitCodeOf } from './errors.js';
export {
  type PublishDeps,
  type PublishFileOptions,
  type PublishFromStoreOptions,
  type PublishOptions,
  type PublishResult,
  announce,
  parseLabels,
  publishFile,
  publishFromStore,
  validatePublishOptions,
} from './publish-image.js';
export {
  type CommitDecision,
  type PassResult,
  type UploadPassOptions,
  type UploadPassOutcome,
  hashAndInspect,
  uploadAndInspect,
} from './ova-single-pass.js';
export { type RepublishOptions, type RepublishResult, parseExactRef, republishImage } from './republish-image.js';
export { type RetireResult, retireImage } from './retire-image.js';
export { requestReconcile } from './request-reconcile.js';
export {
  SITE_CONTROL_SCHEMA,
  type SiteControl,
  parseSiteControl,
  setSiteSuspended,
  siteControlKey,
  siteControlSchema,
} from './site-control.js';
export { readSidecar, writeSidecar } from './sidecar.js';
export {
  type ImageRow,
  type LastReconcile,
  STATUS_JSON_SCHEMA,
  type SiteRow,
  type StatusCell,
  type StatusFilter,
  type StatusInput,
  type StatusMatrix,
  buildStatusMatrix,
  isTransferring,
  rowTargetsSite,
} from './status-matrix.js';
export {
  formatAge,
  formatCell,
  renderColumns,
  renderImagesTable,
  renderReconcileTable,
  renderSitesTable,
  renderStatus,
} from './status-table.js';
export { readStatusInput } from './status-snapshot.js';
export { type DiscoveryOptions, type DiscoveryReport, StoreDiscovery, imageFromPath } from './store-discovery.js';
export { type HttpApi, type HttpApiOptions, parseListen, startHttpApi } from './http-api.js';
export {
  WEBHOOK_AUTH_HEADER,
  type WebhookDeps,
  type WebhookRegistration,
  type WebhookResponse,
  handleArtifactoryWebhook,
  secretMatches,
} from './artifactory-webhook.js';
export { openStore } from './store-factory.js';
