/**
 * Who may call what: the one rule every route of the HTTP API is guarded by, as a pure function of
 * the route's access level and the request's headers (the auth hook in http-server.ts applies it).
 *
 *   public   the page, its assets, /healthz, answers that hold no data (404, 405)
 *   read     /api/* reads: with a token configured, `Authorization: Bearer <token>`; without one, open
 *   write    /api/* changes, refused unless all hold, checked in this order:
 *              - a token is configured (`http.tokenFile` / FERRY_API_TOKEN); without one the API is read-only (403);
 *              - CSRF: an `Origin` header, when present, is this server's own origin (Host, or
 *                X-Forwarded-Host behind a proxy), and `Sec-Fetch-Site`, when present, is same-origin (403);
 *              - with a body: `Content-Type: application/json` (415): a cross-site form cannot send it
 *                without a CORS preflight, which this server never answers;
 *              - `Authorization: Bearer <token>` (401). Cookies are never read, so a browser's ambient
 *                credentials cannot authorise anything.
 *   webhook  `X-JFrog-Event-Auth` equals the webhook secret (none configured: 503, the endpoint never
 *            runs unauthenticated; missing or wrong: 401 with a fixed body)
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Secret } from '@ferry/shared';

export type Access =
  | { level: 'public' }
  | { level: 'read' }
  /** `what` names the change in the read-only refusal; `json`: the request carries a JSON body. */
  | { level: 'write'; what: string; json: boolean }
  | { level: 'webhook' };

export interface AccessSecrets {
  token?: Secret;
  webhookSecret?: Secret;
}

/** A refusal: status, JSON body and extra headers. */
export interface Refusal {
  status: number;
  body: { error: string };
  headers?: Record<string, string>;
}

export const WEBHOOK_AUTH_HEADER = 'x-jfrog-event-auth';

const UNAUTHORIZED: Refusal = {
  status: 401,
  body: { error: 'unauthorized' },
  headers: { 'www-authenticate': 'Bearer' },
};

/** Constant-time comparison (of SHA-256 digests, so lengths never leak either). */
export function secretMatches(given: string | undefined, secret: Secret): boolean {
  if (given === undefined) return false;
  const a = createHash('sha256').update(given, 'utf8').digest();
  const b = createHash('sha256').update(secret.reveal(), 'utf8').digest();
  return timingSafeEqual(a, b);
}

const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v);

export function bearer(headers: IncomingHttpHeaders): string | undefined {
  const h = headers.authorization;
  if (!h) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(h);
  return m?.[1]?.trim();
}

/** Whether the request may read the data: no token configured, or its bearer token is the token. */
export function mayRead(headers: IncomingHttpHeaders, token: Secret | undefined): boolean {
  return !token || secretMatches(bearer(headers), token);
}

/** Whether a present Origin header names this server (as the browser reached it). */
export function sameOrigin(req: { headers: IncomingHttpHeaders }): boolean {
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

/** The refusal to answer, or undefined when the request may proceed to its route. */
export function refuseAccess(
  access: Access,
  headers: IncomingHttpHeaders,
  secrets: AccessSecrets,
): Refusal | undefined {
  switch (access.level) {
    case 'public':
      return undefined;
    case 'read':
      return mayRead(headers, secrets.token) ? undefined : UNAUTHORIZED;
    case 'webhook':
      if (!secrets.webhookSecret) {
        return { status: 503, body: { error: 'webhook disabled: set http.webhookSecretFile or FERRY_WEBHOOK_SECRET' } };
      }
      return secretMatches(one(headers[WEBHOOK_AUTH_HEADER]), secrets.webhookSecret)
        ? undefined
        : { status: 401, body: { error: 'unauthorized' } };
    case 'write': {
      const token = secrets.token;
      if (!token) {
        return {
          status: 403,
          body: { error: `read-only: set http.tokenFile or FERRY_API_TOKEN to allow ${access.what}` },
        };
      }
      if (!sameOrigin({ headers })) return { status: 403, body: { error: 'cross-origin request refused' } };
      const type = (headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (access.json && type !== 'application/json') {
        return { status: 415, body: { error: 'expected Content-Type: application/json' } };
      }
      return secretMatches(bearer(headers), token) ? undefined : UNAUTHORIZED;
    }
  }
}
