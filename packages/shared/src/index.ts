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
