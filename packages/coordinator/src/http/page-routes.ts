/**
 * The page and what holds no data: `/healthz`, `/` (and `/index.html`), and the page's assets
 * (web/assets.ts). A non-browser client (its Accept header does not ask for text/html: curl,
 * scripts) that may read the data also gets the plain text matrix of `ferry status` inside the
 * page's <noscript>.
 */
import type { Secret } from '@ferry/shared';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { StatusMatrix } from '../status/status-matrix.js';
import { renderStatus } from '../status/status-table.js';
import { type Asset, loadAssets, PAGE_CSP } from '../web/assets.js';
import { mayRead } from './request-access.js';

export interface PageDeps {
  token?: Secret;
  status: () => Promise<StatusMatrix>;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const pageHeaders = (asset: Asset): Record<string, string> => ({
  'content-type': asset.type,
  'cache-control': 'no-cache',
  etag: asset.etag,
  'content-security-policy': PAGE_CSP,
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
});

function sendAsset(request: FastifyRequest, reply: FastifyReply, asset: Asset, body: Buffer = asset.body) {
  reply.headers(pageHeaders(asset));
  if (body === asset.body && request.headers['if-none-match'] === asset.etag) return reply.code(304).send();
  return reply.code(200).send(body);
}

export async function registerPageRoutes(app: FastifyInstance, deps: PageDeps): Promise<void> {
  const assets = await loadAssets();
  const page = assets.get('/')!;
  app.get('/healthz', (_request, reply) => reply.type('text/plain; charset=utf-8').send('ok\n'));
  const servePage = async (request: FastifyRequest, reply: FastifyReply) => {
    const browser = /text\/html/i.test(request.headers.accept ?? '');
    if (browser || !mayRead(request.headers, deps.token)) return sendAsset(request, reply, page);
    const matrix = await deps.status();
    const text = `<noscript><pre>${escapeHtml(renderStatus(matrix, new Date(matrix.generatedAt)))}</pre></noscript>`;
    const html = page.body.toString('utf8').replace('<!--noscript-->', () => text);
    return sendAsset(request, reply, page, Buffer.from(html));
  };
  app.get('/', servePage);
  app.get('/index.html', servePage);
  for (const [path, asset] of assets) {
    if (path !== '/') app.get(path, (request, reply) => sendAsset(request, reply, asset));
  }
}
