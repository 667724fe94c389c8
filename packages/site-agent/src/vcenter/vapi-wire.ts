/**
 * The vSphere Automation (vAPI) REST wire format ferry speaks: endpoint paths, the raw shapes
 * vCenter and vcsim answer with, and their mapping to the `ContentLibrary` types. Only the
 * fields ferry reads are declared; every one is optional because vcsim omits many.
 */

import { VsphereError } from '../errors.js';
import type { LibraryItemInfo, UpdateSessionInfo } from './content-library.js';

const REST = '/rest/com/vmware';

export const VAPI_PATHS = {
  session: `${REST}/cis/session`,
  library: `${REST}/content/library`,
  localLibrary: `${REST}/content/local-library`,
  subscribedLibrary: `${REST}/content/subscribed-library`,
  subscribedItem: `${REST}/content/library/subscribed-item`,
  item: `${REST}/content/library/item`,
  file: `${REST}/content/library/item/file`,
  updateSession: `${REST}/content/library/item/update-session`,
  updateSessionFile: `${REST}/content/library/item/updatesession/file`,
  downloadSession: `${REST}/content/library/item/download-session`,
  downloadSessionFile: `${REST}/content/library/item/downloadsession/file`,
} as const;

/** The header that carries the REST session id (vCenter's and vcsim's name for it). */
export const SESSION_HEADER = 'vmware-api-session-id';

export interface RawFile {
  name?: string;
  size?: number;
  cached?: boolean;
  checksum_info?: { algorithm?: string; checksum?: string };
}

export interface RawItem {
  id?: string;
  name?: string;
  description?: string;
  type?: string;
  content_version?: string;
  size?: number;
  creation_time?: string;
  last_modified_time?: string;
  source_id?: string;
}

export interface RawSession {
  id?: string;
  library_item_id?: string;
  state?: string;
  error_message?: { default_message?: string; id?: string };
}

/** A file of an update or download session. */
export interface RawTransferFile {
  name?: string;
  status?: string;
  upload_endpoint?: { uri?: string };
  bytes_transferred?: number;
  download_endpoint?: { uri?: string };
  error_message?: { default_message?: string };
}

/** The vAPI `value` of an answer body (undefined for an empty body). */
export function parseValue(body: string): unknown {
  if (body.trim() === '') return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch (err) {
    throw new VsphereError('parse', `vCenter answered with invalid JSON: ${body.slice(0, 120)}`, {
      cause: err,
      retryable: false,
    });
  }
  if (parsed !== null && typeof parsed === 'object' && 'value' in parsed) return (parsed as { value: unknown }).value;
  return parsed;
}

export function toItem(raw: RawItem, id: string): LibraryItemInfo {
  const item: LibraryItemInfo = { id: raw.id ?? id, name: raw.name ?? '', description: raw.description ?? '' };
  if (raw.type) item.type = raw.type;
  if (raw.content_version) item.contentVersion = raw.content_version;
  if (typeof raw.size === 'number') item.size = raw.size;
  if (raw.creation_time) item.creationTime = raw.creation_time;
  if (raw.last_modified_time) item.lastModifiedTime = raw.last_modified_time;
  if (raw.source_id) item.sourceId = raw.source_id;
  return item;
}

export function toUpdateSessionInfo(raw: RawSession, id: string): UpdateSessionInfo {
  const info: UpdateSessionInfo = { id, libraryItemId: raw.library_item_id ?? '', state: raw.state ?? 'UNKNOWN' };
  const msg = raw.error_message?.default_message;
  if (msg) info.errorMessage = msg;
  return info;
}
