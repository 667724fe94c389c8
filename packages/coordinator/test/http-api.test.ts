/**
 * The coordinator's HTTP layer without NATS: the access rule as a table, then the routing,
 * body and refusal behaviour of the fastify server over real loopback HTTP (status from a fixed
 * matrix; live page, republish and approve not wired, so they answer 503 after their checks).
 */
import { Writable } from 'node:stream';
import { createLogger, Secret } from '@ferry/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Access,
  buildStatusMatrix,
  type HttpApi,
  refuseAccess,
  startHttpApi,
  type WebhookRegistration,
} from '../src/internal.js';

const TOKEN = 'tok-3f9a1c';
const HOOK = 'hook-77e2b0';
const token = new Secret(TOKEN);
const webhookSecret = new Secret(HOOK);

describe('refuseAccess', () => {
  const write: Access = { level: 'write', what: 'republish', json: true };
  const auth = { authorization: `Bearer ${TOKEN}` };
  const json = { 'content-type': 'application/json' };
  const cases: Array<[string, Access, Record<string, string>, { token?: Secret; webhookSecret?: Secret }, number?]> = [
    ['public needs nothing', { level: 'public' }, {}, { token }, undefined],
    ['read without a token configured', { level: 'read' }, {}, {}, undefined],
    ['read without the bearer token', { level: 'read' }, {}, { token }, 401],
    ['read with a wrong token', { level: 'read' }, { authorization: 'Bearer nope' }, { token }, 401],
    ['read with the token', { level: 'read' }, auth, { token }, undefined],
    ['write without a token configured', write, { ...json, ...auth }, {}, 403],
    ['write cross-origin', write, { ...json, ...auth, host: 'a:1', origin: 'http://b:1' }, { token }, 403],
    ['write cross-site fetch', write, { ...json, ...auth, 'sec-fetch-site': 'cross-site' }, { token }, 403],
    ['write not JSON', write, { ...auth, 'content-type': 'text/plain' }, { token }, 415],
    ['write without the bearer token', write, json, { token }, 401],
    ['write same origin with the token', write, { ...json, ...auth, host: 'a:1', origin: 'http://a:1' }, { token }],
    ['bodyless write needs no type', { ...write, json: false }, auth, { token }, undefined],
    ['webhook without a secret configured', { level: 'webhook' }, { 'x-jfrog-event-auth': HOOK }, {}, 503],
    ['webhook with a wrong secret', { level: 'webhook' }, { 'x-jfrog-event-auth': 'x' }, { webhookSecret }, 401],
    ['webhook with the secret', { level: 'webhook' }, { 'x-jfrog-event-auth': HOOK }, { webhookSecret }, undefined],
  ];
  it.each(cases)('%s', (_name, access, headers, secrets, status) => {
    expect(refuseAccess(access, headers, secrets)?.status).toBe(status);
  });
});

describe('the HTTP API on fastify', () => {
  let api: HttpApi;
  const registered: WebhookRegistration[] = [];
  let logged = '';
  const sink = new Writable({
    write(chunk, _enc, done) {
      logged += String(chunk);
      done();
    },
  });
  const matrix = buildStatusMatrix(
    { manifests: [], records: [], heartbeats: [], reports: [], controls: [] },
    new Date(),
  );
  const auth = { authorization: `Bearer ${TOKEN}` };
  const call = (path: string, init: RequestInit = {}) => fetch(`${api.url}${path}`, init);

  beforeAll(async () => {
    api = await startHttpApi({
      listen: '127.0.0.1:0',
      token,
      status: async () => matrix,
      webhook: { secret: webhookSecret, prefix: '', register: (job) => registered.push(job) },
      logger: createLogger({ destination: sink }),
    });
  });
  afterAll(async () => {
    await api?.close();
  });

  it('answers the reads as the CLI documents, pretty-printed, with the token only', async () => {
    expect((await call('/api/status')).status).toBe(401);
    const res = await call('/api/status', { headers: auth });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(await res.text()).toBe(`${JSON.stringify(matrix, null, 2)}\n`);
    expect(await (await call('/api/sites', { headers: auth })).json()).toEqual({
      schema: matrix.schema,
      generatedAt: matrix.generatedAt,
      sites: [],
    });
    expect(await (await call('/healthz')).text()).toBe('ok\n');
  });

  it('keeps 404 for unknown paths and 405 for other methods, before any token check', async () => {
    expect((await call('/api/nope')).status).toBe(404);
    const post = await call('/healthz', { method: 'POST' });
    expect([post.status, await post.json()]).toEqual([405, { error: 'method not allowed' }]);
    const get = await call('/api/republish');
    expect([get.status, get.headers.get('allow'), await get.json()]).toEqual([405, 'POST', { error: 'use POST' }]);
    const head = await call('/api/events', { method: 'HEAD', headers: auth });
    expect([head.status, head.headers.get('allow')]).toEqual([405, 'GET']);
    expect((await call('/api/events', { headers: auth })).status).toBe(503);
  });

  it('says what this process cannot do before it checks a token or reads a body', async () => {
    const approve = await call('/api/approve', { method: 'POST', headers: { 'content-type': 'application/json' } });
    expect(approve.status).toBe(503);
    expect(await approve.json()).toEqual({ error: 'approve is not available in this process' });
    expect((await call('/api/sites/dc1', { method: 'DELETE' })).status).toBe(503);
  });

  it('reads the webhook body only with the secret, whatever its type, up to its limit', async () => {
    const hook = (headers: Record<string, string>, body: string) =>
      call('/hooks/artifactory', { method: 'POST', headers, body });
    const event = JSON.stringify({ event_type: 'deployed', data: { path: 'ubuntu/2026.1/ubuntu.ova' } });
    expect((await hook({ 'content-type': 'application/json' }, event)).status).toBe(401);
    const ok = await hook({ 'content-type': 'text/plain', 'x-jfrog-event-auth': HOOK }, event);
    expect([ok.status, await ok.json()]).toEqual([
      202,
      { accepted: true, path: 'ubuntu/2026.1/ubuntu.ova', name: 'ubuntu', version: '2026.1' },
    ]);
    expect(registered).toEqual([{ path: 'ubuntu/2026.1/ubuntu.ova', name: 'ubuntu', version: '2026.1' }]);
    const notJson = await hook({ 'content-type': 'application/json', 'x-jfrog-event-auth': HOOK }, '{');
    expect([notJson.status, await notJson.json()]).toEqual([400, { error: 'body is not JSON' }]);
    const big = await hook({ 'content-type': 'application/json', 'x-jfrog-event-auth': HOOK }, 'x'.repeat(70_000));
    expect([big.status, await big.json()]).toEqual([413, { error: 'body larger than 65536 bytes' }]);
  });

  it('answers a path that is not valid URL encoding with 400 and logs no token', async () => {
    const res = await call('/api/sites/%zz', { method: 'DELETE', headers: auth });
    expect([res.status, await res.json()]).toEqual([400, { error: 'the path is not valid URL encoding' }]);
    expect(logged).not.toContain(TOKEN);
    expect(logged).not.toContain(HOOK);
  });
});
