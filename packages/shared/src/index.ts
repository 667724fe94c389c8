export { sleep } from './backoff.js';
export { canonicalJson } from './canonical-json.js';
export { Catalog } from './catalog.js';
export { exitQuietlyOnClosedPipe } from './closed-pipe.js';
export {
  type AgentConfig,
  type AgentOptions,
  type AgentOptionsWithDefaults,
  agentOptionsWithDefaults,
  type CoordinatorConfig,
  type CoordinatorOptions,
  type CoordinatorOptionsWithDefaults,
  compileAgentConfig,
  compileCoordinatorConfig,
  coordinatorOptionsWithDefaults,
  DEFAULT_JETSTREAM_REPLICAS,
  DEFAULT_LOG_LEVEL,
  DEFAULT_VSPHERE_KEEP_ALIVE_MS,
  type Env,
  loadAgentConfig,
  loadCoordinatorConfig,
  type NatsConfig,
  renderItemName,
  resolveAgentConfig,
  resolveCoordinatorConfig,
  type StoreConfig,
  type TargetConfig,
  type TlsFiles,
  type VsphereConfig,
} from './config.js';
export {
  CacheError,
  ChecksumMismatchError,
  ConfigError,
  describeError,
  type ErrorCode,
  ErrorCodes,
  FerryError,
  fsReason,
  InvalidNameError,
  LocalPathError,
  MessagingError,
  NotFoundError,
  OvaFormatError,
  SchemaError,
  SignatureError,
  StoreError,
} from './errors.js';
export { type EventBody, EventBus, type PublishedEvent, publishedMsgId } from './event-bus.js';
export { EVENT_SCHEMA, eventSchema, type FerryEvent, MAX_EVENT_BYTES, parseEvent } from './events.js';
export { formatAge, formatAgeAt } from './format-age.js';
export {
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_STALE_MS,
  type Heartbeat,
  heartbeatSchema,
  parseHeartbeat,
  parseReconcileReport,
  type ReconcileReport,
  reconcileReportSchema,
} from './heartbeat.js';
export { privateKeyModeProblem, restrictPrivateKeyFile } from './key-file-mode.js';
export { type KeyLister, listKeys } from './kv-keys.js';
export { LISTEN_RE, parseListen } from './listen-address.js';
export { createLogger, type Logger, type LoggerOptions, silentLogger } from './logger.js';
export {
  imageSidecarPath,
  MANIFEST_SCHEMA,
  type Manifest,
  type ManifestFile,
  manifestSchema,
  parseManifest,
  parseUnsignedManifest,
  sidecarPath,
  type UnsignedManifest,
} from './manifest.js';
export { mapLimit } from './map-limit.js';
export {
  assertImageName,
  assertSiteId,
  assertVersion,
  IMAGE_NAME_RULE,
  imageRef,
  isImageName,
  isSiteId,
  isVersion,
  parseImageRef,
  SITE_ID_RULE,
} from './names.js';
export { type ConnectNatsOptions, connectNats } from './nats-connect.js';
export {
  CATALOG_BUCKET,
  catalogKey,
  consumerNames,
  decodeKeyPart,
  EVENT_KINDS,
  EVENTS_STREAM,
  EVENTS_SUBJECT_PREFIX,
  type EventKind,
  encodeKeyPart,
  eventSubject,
  parseCatalogKey,
  parseStatusKey,
  reconcileReportKey,
  SITES_BUCKET,
  STATUS_BUCKET,
  siteFilterSubjects,
  siteKey,
  statusKey,
} from './nats-names.js';
export type { ByteRange, HttpGetPlan, ObjectInfo, ObjectStore, PutOptions } from './object-store.js';
export { OvaChecker, type OvaEntryPlan } from './ova/ova-checker.js';
export {
  inspectOva,
  type OvaEntry,
  type OvaEntryRole,
  OvaReader,
  type OvaReadOptions,
  type OvaSummary,
} from './ova/ova-reader.js';
export { MAX_OVF_BYTES, type MfLine, type OvfReference, parseMf, parseOvfReferences } from './ova/ovf-references.js';
export {
  decodeLongPath,
  decodePax,
  decodeTarHeader,
  MAX_LONG_HEADER_BYTES,
  TAR_BLOCK,
  type TarEntryType,
  type TarHeader,
  tarPadding,
} from './ova/tar-header.js';
export {
  type BackoffPolicy,
  backoffDelay,
  ERROR_CODE_RULES,
  isPermanentFailure,
  isRetryable,
  isRetryableCode,
  isRetryableServiceName,
  isRetryableStatus,
  LOW_LEVEL_CODES,
  lowLevelKind,
  type RetryDecision,
  type RetryOptions,
  type RetryRule,
  retryDecision,
} from './retry-policy.js';
export {
  parseRolloutRecord,
  ROLLOUT_GATES,
  ROLLOUT_SCHEMA,
  ROLLOUTS_BUCKET,
  type RolloutGate,
  type RolloutPhase,
  RolloutReader,
  type RolloutRecord,
  type RolloutView,
  type RolloutWave,
  rolloutKey,
  rolloutRecordSchema,
  siteReleased,
  viewRollout,
  type WaveSpec,
  waveOfSite,
  waveSpecSchema,
} from './rollout.js';
export { formatIssues, isSecretKeyName, parseWith, redactSecrets } from './schema-error.js';
export { Secret } from './secret.js';
export {
  generateSigningKeyPair,
  keyIdOf,
  loadSigningKey,
  loadTrustedKeys,
  type SigningKey,
  signManifest,
  type TrustedKey,
  verifyManifest,
  writeKeyPair,
} from './signing.js';
export {
  parseSiteControl,
  SITE_CONTROL_SCHEMA,
  type SiteControl,
  siteControlKey,
  siteControlSchema,
} from './site-control.js';
export {
  type DeployCheckRecord,
  deployCheckRecordSchema,
  FINAL_STATES,
  isFinalState,
  JOB_STATES,
  type JobState,
  parseStatusRecord,
  type StatusRecord,
  statusRecordSchema,
} from './status-record.js';
export { isSafeStorePath } from './store-path-check.js';
export { ArtifactoryStore, type ArtifactoryStoreOptions } from './stores/artifactory-store.js';
export { createStore } from './stores/create-store.js';
export { FileStore, type FileStoreOptions } from './stores/file-store.js';
export {
  type ByteSink,
  HttpGetError,
  type HttpGetOptions,
  type HttpGetRequest,
  httpGetInto,
} from './stores/http-get.js';
export { partSizeFor, S3Store, type S3StoreOptions } from './stores/s3-store.js';
export { normalizeStorePath, normalizeStorePrefix } from './stores/store-path.js';
export { type SiteIdentity, selectorMatches, targetsSite } from './targets.js';
export { ensureTopology, openTopology, type Topology, type TopologyOptions } from './topology.js';
export { formatBytes, formatDuration, parseDuration, parseRate, parseSize } from './units.js';
export { withTimeout } from './with-timeout.js';
export {
  type BandwidthConfig,
  bandwidthConfigSchema,
  DEFAULT_DEPLOY_CHECK_TIMEOUT_MS,
  DEFAULT_PULL_TTL_MS,
  type DeployCheckConfig,
  type DeployCheckSettings,
  deployCheckConfigSchema,
  type PullConfig,
  pullConfigSchema,
  resolveDeployCheck,
} from './zone-parts-config.js';
