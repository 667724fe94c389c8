/**
 * `POST /api/republish` `{ "name", "version", "site"?, "force"? }`: what `ferry republish
 * NAME@VERSION [--site S] [--force]` does (republishImage), for the web page's button.
 *
 * Refused unless all of these hold, checked in this order:
 *   - a token is configured (`http.tokenFile` / FERRY_API_TOKEN); without one the API is read-only (403);
 *   - CSRF: an `Origin` header, when present, is this server's own origin (Host, or
 *     X-Forwarded-Host behind a proxy), and `Sec-Fetch-Site`, when present, is same-origin (403);
 *   - `Content-Type: application/json` (415): a cross-site form cannot send it without a CORS
 *     preflight, which this server never answers;
 *   - `Authorization: Bearer <token>` (401). Cookies are never read, so a browser's ambient
 *     credentials cannot authorise anything.
 */
import type { IncomingMessage } from 'node:http';
import {
  assertImageName,
  assertSiteId,
  assertVersion,
  type Catalog,
  type EventBus,
  FerryError,
  type Logger,
  type Secret,
  type Topology,
} from '@ferry/shared';
import { z } from 'zod';
import { secretMatches } from '../discovery/artifactory-webhook.js';
import { ImageNotFoundError, UnknownSiteError } from '../errors.js';
import { readBody } from '../http-body.js';
import { republishImage } from '../publish/republish-image.js';

const MAX_BODY_BYTES = 4096;

export interface RepublishDeps {
  token?: Secret;
  catalog: Catalog;
  bus: EventBus;
  topology: Topology;
  logger?: Logger;
}

export interface ApiResponse {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

const bodySchema = z.strictObject({
  name: z.string(),
  version: z.string(),
  site: z.string().optional(),
  force: z.boolean().optional(),
});

export function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(h);
  return m?.[1]?.trim();
}

const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

/** Whether a present Origin header names this server (as the browser reached it). */
export function sameOrigin(req: IncomingMessage): boolean {
  const origin = one(req.headers.origin);
  const fetchSite = one(req.headers['sec-fetch-site']);
  if (fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none') return false;
  if (origin === undefined) return true;
  let host: string;
  try {
    const u = new URL(origin);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return false;
    host = u.host.toLowerCase();
  } catch {
    return false; // "null" (sandboxed frames, file://) and garbage
  }
  const hosts = [one(req.headers.host), ...(one(req.headers['x-forwarded-host'])?.split(',') ?? [])]
    .map((h) => h?.trim().toLowerCase())
    .filter((h): h is string => !!h);
  return hosts.includes(host);
}

/**
 * The checks every request that changes something passes (see the list above), JSON body or not:
 * the refusal to answer, or undefined when the request may proceed.
 */
export function refuseWrite(
  req: IncomingMessage,
  token: Secret | undefined,
  what: string,
  body: 'json' | 'none',
): ApiResponse | undefined {
  if (!token) {
    return { status: 403, body: { error: `read-only: set http.tokenFile or FERRY_API_TOKEN to allow ${what}` } };
  }
  if (!sameOrigin(req)) return { status: 403, body: { error: 'cross-origin request refused' } };
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (body === 'json' && type !== 'application/json') {
    return { status: 415, body: { error: 'expected Content-Type: application/json' } };
  }
  if (!secretMatches(bearer(req), token)) {
    return { status: 401, body: { error: 'unauthorized' }, headers: { 'www-authenticate': 'Bearer' } };
  }
  return undefined;
}

/**
 * A write with a JSON body: the refusals of refuseWrite, then the body parsed with `schema` (its
 * expected `shape` named in the 400). The body, or the refusal to send.
 */
export async function readWriteRequest<T>(
  req: IncomingMessage,
  token: Secret | undefined,
  what: string,
  schema: z.ZodType<T>,
  shape: string,
): Promise<{ body: T } | { refusal: ApiResponse }> {
  const refused = refuseWrite(req, token, what, 'json');
  if (refused) return { refusal: refused };
  const raw = await readBody(req, MAX_BODY_BYTES);
  if (!raw) return { refusal: { status: 413, body: { error: `body larger than ${MAX_BODY_BYTES} bytes` } } };
  try {
    const r = schema.safeParse(JSON.parse(raw.toString('utf8')));
    if (!r.success) return { refusal: { status: 400, body: { error: `expected ${shape}` } } };
    return { body: r.data };
  } catch {
    return { refusal: { status: 400, body: { error: 'body is not JSON' } } };
  }
}

export async function handleRepublish(req: IncomingMessage, deps: RepublishDeps): Promise<ApiResponse> {
  const request = await readWriteRequest(req, deps.token, 'republish', bodySchema, '{ name, version, site?, force? }');
  if ('refusal' in request) return request.refusal;
  const parsed = request.body;
  try {
    const name = assertImageName(parsed.name);
    const version = assertVersion(parsed.version);
    const sites = parsed.site === undefined ? undefined : [assertSiteId(parsed.site)];
    const result = await republishImage(deps, {
      ref: `${name}@${version}`,
      sites,
      force: parsed.force ?? false,
      unknownSiteHint: 'check the spelling; a site is known once its agent has reported',
    });
    deps.logger?.info(
      {
        image: `${name}@${version}`,
        target: parsed.site ?? 'all',
        force: parsed.force ?? false,
        from: req.socket.remoteAddress,
      },
      'web: republish',
    );
    return { status: 202, body: result };
  } catch (err) {
    if (err instanceof ImageNotFoundError) return { status: 404, body: { error: err.message } };
    if (err instanceof UnknownSiteError) return { status: 400, body: { error: err.message, knownSites: err.known } };
    if (err instanceof FerryError && (err.code === 'USAGE' || err.code === 'INVALID_NAME')) {
      return { status: 400, body: { error: err.message } };
    }
    throw err;
  }
}
