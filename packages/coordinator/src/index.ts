export {
  handleArtifactoryWebhook,
  secretMatches,
  WEBHOOK_AUTH_HEADER,
  type WebhookDeps,
  type WebhookRegistration,
  type WebhookResponse,
} from './artifactory-webhook.js';
export { buildProgram, type CliIo, runCli } from './cli-program.js';
export {
  type CoordinatorContext,
  defaultConfigFile,
  type NatsConnection,
  type OpenContextOptions,
  openContext,
  openContextFromFile,
} from './coordinator-context.js';
export {
  type CoordinatorDaemon,
  type CoordinatorDaemonOptions,
  runCoordinator,
  startCoordinator,
} from './coordinator-daemon.js';
export { exitCodeOf, ImageNotFoundError, InputFileError, PublishConflictError, UsageError } from './errors.js';
export { type HttpApi, type HttpApiOptions, parseListen, startHttpApi } from './http-api.js';
export { checkSites, knownSites } from './known-sites.js';
export {
  type CommitDecision,
  hashAndInspect,
  type PassResult,
  type UploadPassOptions,
  type UploadPassOutcome,
  uploadAndInspect,
} from './ova-single-pass.js';
export { parseLabels } from './publish-cli.js';
export { markedArtifact, publishMarkerPath } from './publish-guard.js';
export {
  announce,
  type PublishDeps,
  type PublishFileOptions,
  type PublishFromStoreOptions,
  type PublishOptions,
  type PublishResult,
  publishFile,
  publishFromStore,
  validatePublishOptions,
} from './publish-image.js';
export { type RemoveSiteResult, removeSite } from './remove-site.js';
export { parseExactRef, type RepublishOptions, type RepublishResult, republishImage } from './republish-image.js';
export { requestReconcile } from './request-reconcile.js';
export { type RetireResult, retireImage } from './retire-image.js';
export { isSidecarPathOf, ovasWithSidecars, readSidecar, sidecarPathOf, writeSidecar } from './sidecar.js';
export {
  parseSiteControl,
  SITE_CONTROL_SCHEMA,
  type SiteControl,
  setSiteSuspended,
  siteControlKey,
  siteControlSchema,
} from './site-control.js';
export {
  buildStatusMatrix,
  type ImageRow,
  isTransferring,
  type LastReconcile,
  rowTargetsSite,
  type SiteRow,
  STATUS_JSON_SCHEMA,
  type StatusCell,
  type StatusFilter,
  type StatusInput,
  type StatusMatrix,
} from './status-matrix.js';
export { readStatusInput } from './status-snapshot.js';
export {
  formatAge,
  formatCell,
  renderColumns,
  renderImagesTable,
  renderReconcileTable,
  renderSitesTable,
  renderStatus,
} from './status-table.js';
export { type DiscoveryOptions, type DiscoveryReport, imageFromPath, StoreDiscovery } from './store-discovery.js';
export { openStore } from './store-factory.js';
