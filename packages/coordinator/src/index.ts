export { parseListen } from '@ferry/shared';
export { buildProgram, type CliIo, runCli } from './cli/cli-program.js';
export { parseLabels } from './cli/publish-cli.js';
export {
  type CoordinatorContext,
  type CoordinatorNats,
  defaultConfigFile,
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
export {
  readArtifactoryWebhook,
  type WebhookDeps,
  type WebhookRegistration,
  type WebhookResponse,
} from './discovery/artifactory-webhook.js';
export {
  type DiscoveryOptions,
  type DiscoveryReport,
  imageFromPath,
  StoreDiscovery,
} from './discovery/store-discovery.js';
export { exitCodeOf, ImageNotFoundError, InputFileError, PublishConflictError, UsageError } from './errors.js';
export { type HttpApi, type HttpApiOptions, startHttpApi } from './http/http-server.js';
export { secretMatches, WEBHOOK_AUTH_HEADER } from './http/request-access.js';
export {
  type CommitDecision,
  hashAndInspect,
  type PassResult,
  type UploadPassOptions,
  type UploadPassOutcome,
  uploadAndInspect,
} from './publish/ova-single-pass.js';
export { markedArtifact, publishMarkerPath } from './publish/publish-guard.js';
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
} from './publish/publish-image.js';
export {
  parseExactRef,
  type RepublishOptions,
  type RepublishResult,
  republishImage,
} from './publish/republish-image.js';
export { type RetireResult, retireImage } from './publish/retire-image.js';
export { isSidecarPathOf, ovasWithSidecars, readSidecar, sidecarPathOf, writeSidecar } from './publish/sidecar.js';
export { openStore } from './publish/store-factory.js';
export { checkSites, knownSites } from './sites/known-sites.js';
export { type RemoveSiteResult, removeSite } from './sites/remove-site.js';
export { requestReconcile } from './sites/request-reconcile.js';
export { setSiteSuspended } from './sites/site-control.js';
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
} from './status/status-matrix.js';
export { readStatusInput } from './status/status-snapshot.js';
export {
  formatAge,
  formatCell,
  renderColumns,
  renderImagesTable,
  renderReconcileTable,
  renderSitesTable,
  renderStatus,
} from './status/status-table.js';
