/**
 * The page's static files: `web/` at the package root (packages/coordinator/web), read once at
 * start. Found relative to this module, which sits at src/web/ (tests, run from the sources) or
 * dist/web/ (the built bin): both are two levels below the package root. No build step: the
 * browser script is plain modern JavaScript. The files hold no data, so they are served without
 * the API token.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

export interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** URL path → file in web/, and its content type. */
const FILES: Record<string, [file: string, type: string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/assets/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/assets/view.js': ['view.js', 'text/javascript; charset=utf-8'],
  '/assets/render.js': ['render.js', 'text/javascript; charset=utf-8'],
  '/assets/app.css': ['app.css', 'text/css; charset=utf-8'],
};

export const WEB_DIR = new URL('../../web/', import.meta.url);

/**
 * Modules of @ferry/shared that the page imports as they are compiled (no imports, no Node APIs),
 * so the page and the CLI share one targeting rule and one age format and cannot drift.
 */
const SHARED_FILES: Record<string, string> = {
  '/assets/targets.js': 'targets.js',
  '/assets/format-age.js': 'format-age.js',
};
const SHARED_DIST = new URL('./', import.meta.resolve('@ferry/shared'));

/** Content-Security-Policy of the page: nothing but this origin; no inline script or style. */
export const PAGE_CSP =
  "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

function asset(body: Buffer, type: string): Asset {
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

export async function loadAssets(dir: URL = WEB_DIR): Promise<Map<string, Asset>> {
  const out = new Map<string, Asset>();
  for (const [path, [file, type]] of Object.entries(FILES)) {
    const body = await readFile(new URL(file, dir)).catch((err: unknown) => {
      throw new Error(`web page file missing: ${new URL(file, dir).pathname}: ${(err as Error).message}`, {
        cause: err,
      });
    });
    out.set(path, asset(body, type));
  }
  for (const [path, file] of Object.entries(SHARED_FILES)) {
    const url = new URL(file, SHARED_DIST);
    // The compiled file ends with a source-map comment pointing at a file not served: drop it.
    const text = (await readFile(url, 'utf8')).replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n');
    out.set(path, asset(Buffer.from(text), 'text/javascript; charset=utf-8'));
  }
  return out;
}
