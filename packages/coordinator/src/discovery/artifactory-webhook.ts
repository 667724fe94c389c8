/**
 * `POST /hooks/artifactory`: Artifactory's "artifact deployed" webhook. When Packer (or anyone)
 * deploys `<name>/<version>/<file>.ova`, the coordinator registers it at once instead of waiting
 * for the next discovery pass.
 *
 * Authentication (the HTTP API's auth hook, http/request-access.ts, before the body is read):
 * Artifactory sends the webhook's configured secret in `X-JFrog-Event-Auth`; it must equal
 * `http.webhookSecretFile` / FERRY_WEBHOOK_SECRET (compared in constant time). Missing or wrong →
 * 401 with a fixed body (nothing from the request is echoed). No secret configured → 503: the
 * endpoint never runs unauthenticated.
 */
import type { Logger, Secret } from '@ferry/shared';
import { imageFromPath } from './store-discovery.js';

export const WEBHOOK_BODY_LIMIT = 64 * 1024;

export interface WebhookRegistration {
  path: string;
  name: string;
  version: string;
  /** sha256 Artifactory announced; checked against the bytes. */
  sha256?: string;
}

export interface WebhookDeps {
  /** Checked by the HTTP API's auth hook before the body is read. */
  secret?: Secret;
  /** When the store is Artifactory: events from other repositories are ignored. */
  repo?: string;
  /** `discovery.prefix`: the path is read as `[<prefix dir>/]<name>/<version>/<file>.ova`. */
  prefix: string;
  /** Queues the registration; the response does not wait for it (an OVA can take minutes to read). */
  register: (job: WebhookRegistration) => void;
  logger?: Logger;
}

export interface WebhookResponse {
  status: number;
  body: Record<string, unknown>;
}

interface DeployedEvent {
  event_type?: unknown;
  data?: { repo_key?: unknown; path?: unknown; name?: unknown; sha256?: unknown; size?: unknown };
}

/** The answer to an authenticated webhook request with body `raw`; queues the registration. */
export function readArtifactoryWebhook(raw: string, deps: WebhookDeps): WebhookResponse {
  let event: DeployedEvent;
  try {
    event = JSON.parse(raw) as DeployedEvent;
  } catch {
    return { status: 400, body: { error: 'body is not JSON' } };
  }
  if (typeof event !== 'object' || event === null) return { status: 400, body: { error: 'body is not a JSON object' } };
  if (event.event_type !== 'deployed') return { status: 202, body: { ignored: 'not a deployed event' } };
  const data = event.data ?? {};
  if (typeof data.path !== 'string' || data.path === '') return { status: 400, body: { error: 'data.path missing' } };
  if (deps.repo !== undefined && data.repo_key !== deps.repo) {
    return { status: 202, body: { ignored: 'repository is not the store ferry reads' } };
  }
  const path = data.path.replace(/^\/+/, '');
  if (!path.toLowerCase().endsWith('.ova')) return { status: 202, body: { ignored: 'not an .ova' } };
  const image = imageFromPath(path, deps.prefix);
  if ('reason' in image) return { status: 202, body: { ignored: image.reason } };
  const sha256 =
    typeof data.sha256 === 'string' && /^[0-9a-fA-F]{64}$/.test(data.sha256) ? data.sha256.toLowerCase() : undefined;
  deps.register({ path, name: image.name, version: image.version, ...(sha256 ? { sha256 } : {}) });
  deps.logger?.info({ path, image: `${image.name}@${image.version}` }, 'webhook: registration queued');
  return { status: 202, body: { accepted: true, path, name: image.name, version: image.version } };
}
