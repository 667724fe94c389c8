import { readFileSync } from 'node:fs';
import { chromium } from 'playwright-core';
const W = 'packages/coordinator/web/';
const html = readFileSync(W + 'index.html', 'utf8');
const js = readFileSync(W + 'app.js', 'utf8');
const css = readFileSync(W + 'app.css', 'utf8');
const now = Date.now();
const iso = (a) => new Date(now - a).toISOString();
const sites = Array.from({ length: 40 }, (_, i) => ({ site: `dc${String(i).padStart(2,'0')}`, zone: `zone-${String.fromCharCode(97 + (i % 10))}`, labels: {}, stale: i===7, suspended: i===3, suspendRequested: false, lastSeen: iso(2000), agentVersion: '0.1.0', queueDepth: 0, activeDownloads: 1, activeImports: 0, lastReconcile: { startedAt: iso(600000), finishedAt: iso(590000), trigger: 'schedule', dryRun: false, counts: { import: 1, reimport: 0, delete: 2, keep: 5, ignored: 0 }, errors: [] } }));
const images = [];
for (let n = 0; n < 20; n++) for (let v = 9; v >= 0; v--) {
  const row = { name: `image-${String(n).padStart(2,'0')}`, version: `2026.${v+1}.0`, sha256: 'a'.repeat(64), size: 2**30, publishedAt: iso(v*1e6), retired: false, retiredAt: null, inCatalog: true, targets: ['*'], sites: {} };
  sites.forEach((s, i) => { const k = (i*7 + n*10+v) % 23; const state = k===0?'failed':k===1?'downloading':k===2?'importing':k===3?'pending':'ready';
    row.sites[s.site] = { state, bytesDone: 2**28, bytesTotal: 2**30, percent: 25, error: state==='failed'?{code:'NOT_FOUND', message:'x not found'}:null, updatedAt: iso(60000), attempts: 1, retryAt: null, outdated: false }; });
  images.push(row);
}
const doc = JSON.stringify({ schema: 'ferry/status/v1', generatedAt: new Date().toISOString(), sites, images });
const sse = `retry: 3000\nevent: hello\ndata: {"republish":false}\n\nevent: status\ndata: ${doc}\n\n`;
const variants = JSON.parse(process.argv[2] ?? '{"base":""}');
const b = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: ['--no-sandbox','--disable-gpu'] });
const res = {};
for (let round = 0; round < 4; round++) for (const [name, extra] of Object.entries(variants)) {
  const page = await b.newPage({ viewport: { width: 1600, height: 1000 } });
  await page.route('http://bench.local/**', (route) => {
    const u = new URL(route.request().url()).pathname;
    if (u === '/') return route.fulfill({ body: html, contentType: 'text/html' });
    if (u === '/assets/app.js') return route.fulfill({ body: js, contentType: 'text/javascript' });
    if (u === '/assets/app.css') return route.fulfill({ body: css + extra, contentType: 'text/css' });
    if (u === '/api/events') return route.fulfill({ body: sse, contentType: 'text/event-stream' });
    return route.fulfill({ status: 404, body: '' });
  });
  await page.goto('http://bench.local/');
  await page.locator('html[data-ready="true"]').waitFor({ state: 'attached' });
  const t = await page.evaluate(`[performance.getEntriesByName('ferry-first-document')[0].startTime, +document.documentElement.dataset.builtMs, +document.documentElement.dataset.renderMs]`);
  (res[name] ??= []).push(`${Math.round(t[1]-t[0])}+${Math.round(t[2]-t[1])}`);
  await page.close();
}
console.log(JSON.stringify(res)); await b.close();
