export { type AgentRuntime, createAgentRuntime } from './agent-runtime.js';
export { runAgentCli } from './cli.js';
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
export {
  ImageImporter,
  type ImageImporterOptions,
  type ImportProgress,
  type ImportRequest,
  type ImportResult,
} from './image-importer.js';
export { formatMarker, type ItemMarker, parseMarker } from './item-marker.js';
export { TransferQueues } from './transfer-queues.js';
export { AGENT_VERSION } from './version.js';
