export { canonicalJson } from './canonical-json.js';
export {
  type AgentConfig,
  type CoordinatorConfig,
  type Env,
  type NatsConfig,
  type StoreConfig,
  type TlsFiles,
  type VsphereConfig,
  loadAgentConfig,
  loadCoordinatorConfig,
  renderItemName,
  resolveAgentConfig,
  resolveCoordinatorConfig,
} from './config.js';
export {
  CacheError,
  ChecksumMismatchError,
  ConfigError,
  FerryError,
  InvalidNameError,
  MessagingError,
  NotFoundError,
  OvaFormatError,
  SchemaError,
  SignatureError,
  StoreError,
  describeError,
} from './errors.js';
export { EVENT_SCHEMA, type FerryEvent, MAX_EVENT_BYTES, eventSchema, parseEvent } from './events.js';
export { type Logger, type LoggerOptions, createLogger, silentLogger } from './logger.js';
export {
  MANIFEST_SCHEMA,
  type Manifest,
  type ManifestFile,
  type UnsignedManifest,
  manifestSchema,
  parseManifest,
  parseUnsignedManifest,
  sidecarPath,
} from './manifest.js';
export { type ConnectNatsOptions, connectNats } from './nats-connect.js';
export {
  CATALOG_BUCKET,
  EVENTS_STREAM,
  EVENTS_SUBJECT_PREFIX,
  EVENT_KINDS,
  type EventKind,
  SITES_BUCKET,
  STATUS_BUCKET,
  catalogKey,
  consumerNames,
  eventSubject,
  parseCatalogKey,
  parseStatusKey,
  reconcileReportKey,
  siteFilterSubjects,
  siteKey,
  statusKey,
} from './nats-names.js';
export {
  assertImageName,
  assertSiteId,
  assertVersion,
  imageRef,
  isImageName,
  isVersion,
  parseImageRef,
} from './names.js';
export type { ByteRange, ObjectInfo, ObjectStore, PutOptions } from './object-store.js';
export { formatIssues, parseWith } from './schema-error.js';
export { Secret } from './secret.js';
export {
  type SigningKey,
  type TrustedKey,
  generateSigningKeyPair,
  keyIdOf,
  loadSigningKey,
  loadTrustedKeys,
  signManifest,
  verifyManifest,
  writeKeyPair,
} from './signing.js';
export {
  FINAL_STATES,
  JOB_STATES,
  type JobState,
  type StatusRecord,
  isFinalState,
  parseStatusRecord,
  statusRecordSchema,
} from './status-record.js';
export { isSafeStorePath } from './store-path-check.js';
export { type SiteIdentity, selectorMatches, targetsSite } from './targets.js';
export { type Topology, type TopologyOptions, ensureTopology, openTopology } from './topology.js';
export { formatBytes, formatDuration, parseDuration, parseSize } from './units.js';
export {
  type OvaEntry,
  type OvaEntryRole,
  type OvaReadOptions,
  OvaReader,
  type OvaSummary,
  inspectOva,
} from './ova/ova-reader.js';
export { MAX_OVF_BYTES, type MfLine, type OvfReference, parseMf, parseOvfReferences } from './ova/ovf-references.js';
export { type BackoffPolicy, backoffDelay, isRetryable, sleep } from './backoff.js';
export {
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_STALE_MS,
  type Heartbeat,
  type ReconcileReport,
  heartbeatSchema,
  parseHeartbeat,
  parseReconcileReport,
  reconcileReportSchema,
} from './heartbeat.js';
export { Catalog } from './catalog.js';
export { type EventBody, EventBus, type PublishedEvent, publishedMsgId } from './event-bus.js';
export { ArtifactoryStore, type ArtifactoryStoreOptions } from './stores/artifactory-store.js';
export { createStore } from './stores/create-store.js';
export { FileStore, type FileStoreOptions } from './stores/file-store.js';
export { S3Store, type S3StoreOptions } from './stores/s3-store.js';
export { normalizeStorePath, normalizeStorePrefix } from './stores/store-path.js';
