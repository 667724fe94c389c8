/**
 * What ferry needs from a vSphere Content Library: the operations the importer, the reconciler,
 * the job runner and the agent use. `ContentLibraryClient` implements it over vCenter's REST API;
 * unit tests implement it in memory.
 */
import type { Readable } from 'node:stream';

export interface LibraryItemInfo {
  id: string;
  name: string;
  description: string;
  type?: string;
  contentVersion?: string;
  size?: number;
  creationTime?: string;
  lastModifiedTime?: string;
  /** In a subscribed library: the id of the publisher's item this one is synced from. */
  sourceId?: string;
}

export interface LibraryFileInfo {
  name: string;
  size: number;
  checksum?: { algorithm: string; checksum: string };
  /** False while a subscribed item's file is known but its bytes are not on the datastore yet. */
  cached?: boolean;
}

export interface UpdateSessionInfo {
  id: string;
  libraryItemId: string;
  /** ACTIVE, DONE, ERROR or CANCELED */
  state: string;
  errorMessage?: string;
}

/** One open update session of an item (PUSH uploads), until complete, fail or cancel. */
export interface LibraryUpdateSession {
  readonly id: string;
  readonly itemId: string;
  addFile(file: {
    name: string;
    size: number;
    checksum?: { algorithm: 'SHA256' | 'SHA1'; checksum: string };
  }): Promise<string>;
  upload(uploadUrl: string, body: UploadBody, size: number, onProgress?: (bytes: number) => void): Promise<void>;
  validate(): Promise<{ missingFiles: string[]; invalidFiles: string[] }>;
  complete(): Promise<void>;
  fail(message: string): Promise<void>;
  cancel(): Promise<void>;
}

export interface ContentLibrary {
  /** Make sure the session is valid right now (re-login when it expired). */
  checkSession(): Promise<void>;
  /** Ends the session; best effort: logs a failure and never throws. */
  logout(): Promise<void>;
  /** Id of the library named `name`; created on `datastoreId` when missing. */
  ensureLibrary(name: string, datastoreId: string): Promise<string>;
  listItems(libraryId: string): Promise<LibraryItemInfo[]>;
  findItemByName(libraryId: string, name: string): Promise<LibraryItemInfo | undefined>;
  getItem(itemId: string): Promise<LibraryItemInfo | undefined>;
  createItem(libraryId: string, item: { name: string; description: string; type?: string }): Promise<string>;
  updateItem(itemId: string, patch: { description?: string }): Promise<void>;
  /** Deletes an item and its files; an item that is already gone is fine. */
  deleteItem(itemId: string): Promise<void>;
  listFiles(itemId: string): Promise<LibraryFileInfo[]>;
  openUpdateSession(itemId: string): Promise<LibraryUpdateSession>;
  /** Fails every ACTIVE update session on the item (left by a crashed run); returns how many. */
  failOpenSessions(itemId: string, message: string): Promise<number>;
  listUpdateSessions(opts?: { activeOnly?: boolean }): Promise<string[]>;
}

/** One file of an update session as vCenter reports it (PULL transfers are watched through it). */
export interface UpdateSessionFileInfo {
  name: string;
  /** WAITING_FOR_TRANSFER, TRANSFERRING, READY, VALIDATING or ERROR */
  status: string;
  bytesTransferred: number;
  errorMessage?: string;
}

/**
 * What an upload sends: a stream, or a pump that hands chunks to `write` in order; `write`
 * resolves once the chunk is on its way (its buffer may be reused then).
 */
export type UploadBody = Readable | ((write: (chunk: Buffer) => Promise<void>) => Promise<void>);
