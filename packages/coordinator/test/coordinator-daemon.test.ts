/**
 * `ferry coordinator` against a real nats-server and s3rver: discovery rebuilds a destroyed
 * catalog from the store's sidecars (without re-announcing), registers OVAs pushed without a
 * sidecar, and the Artifactory webhook registers a deployed OVA only with the right secret.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { Catalog, type Manifest, silentLogger } from '@ferry/shared';
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOva } from '../../../test/world/ova.js';
import { type CoordinatorDaemon, startCoordinator } from '../src/index.js';
import { startWorld, type World } from './world.js';

const WEBHOOK_SECRET = 'wh-secret-4f1c9a';
const API_TOKEN = 'api-token-77d2';

let world: World;
let daemon: CoordinatorDaemon | undefined;

beforeAll(async () => {
  world = await startWorld({
    extraConfig: 'http: { listen: "127.0.0.1:0" }\ndiscovery: { schedule: "0 0 1 1 *", targets: ["zone:corp"] }',
    env: { FERRY_WEBHOOK_SECRET: WEBHOOK_SECRET, FERRY_API_TOKEN: API_TOKEN },
  });
});
afterAll(async () => {
  await daemon?.stop();
  await world?.stop();
});

async function catalogManifests(): Promise<Manifest[]> {
  return new Catalog(await new Kvm(world.nc).open('ferry_catalog')).list();
}

async function putOva(key: string, file: string): Promise<void> {
  const body = await readFile(file);
  await world.s3client.send(new PutObjectCommand({ Bucket: world.s3.bucket, Key: key, Body: body }));
}

describe('store discovery', () => {
  it('rebuilds every catalog entry from the sidecars after ferry_catalog is destroyed, without new events', async () => {
    // Four image versions: two registered from the same object (one of them retired), and one
    // whose only sidecar has the one-per-object name older releases wrote.
    const dir = join(world.dir, 'ovas');
    await mkdir(dir, { recursive: true });
    for (const [name, version, seed] of [
      ['ubuntu', '1.0', 'u1'],
      ['ubuntu', '1.1', 'u2'],
      ['alma', '9', 'a9'],
    ] as const) {
      const ova = await buildOva(join(dir), { name: `${name}-${version}`, seed });
      const r = await world.ferry('publish', ova.path, '--name', name, '--version', version, '--label', `seed=${seed}`);
      expect(r.code, r.stderr).toBe(0);
    }
    expect((await world.ferry('retire', 'ubuntu@1.0')).code).toBe(0);
    const shared = 'ubuntu/1.1/ubuntu-1.1.ova';
    const golden = await world.ferry('publish', '--from-store', shared, '--name', 'golden', '--version', '7');
    expect(golden.code, golden.stderr).toBe(0);
    expect((await world.ferry('retire', 'golden@7')).code).toBe(0);
    expect(await world.listBucket()).toEqual(
      expect.arrayContaining([`${shared}.ubuntu@1.1.manifest.json`, `${shared}.golden@7.manifest.json`]),
    );
    const almaSidecar = 'alma/9/alma-9.ova.alma@9.manifest.json';
    const legacy = await world.s3client.send(new GetObjectCommand({ Bucket: world.s3.bucket, Key: almaSidecar }));
    await world.s3client.send(
      new PutObjectCommand({
        Bucket: world.s3.bucket,
        Key: 'alma/9/alma-9.ova.manifest.json',
        Body: await legacy.Body!.transformToString(),
      }),
    );
    await world.s3client.send(new DeleteObjectCommand({ Bucket: world.s3.bucket, Key: almaSidecar }));
    const original = await catalogManifests();
    expect(original).toHaveLength(4);
    const events = await world.streamMessages();

    await (await new Kvm(world.nc).open('ferry_catalog')).destroy();
    daemon = await startCoordinator(await world.config(), {
      logger: silentLogger(),
      discoverAtStart: false,
      settleMs: 0,
    });
    const report = await daemon.runDiscovery();

    expect(report).toMatchObject({ rebuild: true, sidecars: 4, restored: 4, announced: 0, registered: 0, errors: [] });
    const restored = await catalogManifests();
    expect(restored).toEqual(original);
    const retired = (name: string, version: string) =>
      restored.find((m) => m.name === name && m.version === version)?.retiredAt !== undefined;
    expect([retired('ubuntu', '1.0'), retired('ubuntu', '1.1'), retired('golden', '7'), retired('alma', '9')]).toEqual([
      true,
      false,
      true,
      false,
    ]);
    expect(await world.streamMessages()).toBe(events);

    // A second pass finds everything in place.
    expect(await daemon.runDiscovery()).toMatchObject({
      rebuild: false,
      restored: 0,
      announced: 0,
      registered: 0,
      repaired: 0,
    });
  });

  it('announces a sidecar that a non-empty catalog lacks (a publish that stopped half-way)', async () => {
    const kv = await new Kvm(world.nc).open('ferry_catalog');
    await kv.delete('alma.9');
    const events = await world.streamMessages();
    const report = await daemon!.runDiscovery();
    expect(report).toMatchObject({ rebuild: false, restored: 1, announced: 1 });
    // Same Nats-Msg-Id as the CLI's publish: JetStream dedupes it within its window.
    expect(await world.streamMessages()).toBe(events);
  });

  it('registers an OVA pushed without a sidecar, and skips paths that do not fit <name>/<version>/<file>.ova', async () => {
    const dir = join(world.dir, 'packer');
    await mkdir(dir, { recursive: true });
    const ova = await buildOva(dir, { name: 'packer-build', seed: 'pk' });
    await putOva('rocky/9.4/rocky.ova', ova.path);
    await putOva('misc/rocky.ova', ova.path);
    const events = await world.streamMessages();

    const report = await daemon!.runDiscovery();
    expect(report.registered).toBe(1);
    expect(report.skipped).toContainEqual({
      path: 'misc/rocky.ova',
      reason: 'path does not fit <name>/<version>/<file>.ova',
    });
    const rocky = (await catalogManifests()).find((m) => m.name === 'rocky');
    expect(rocky).toMatchObject({
      version: '9.4',
      artifact: 'rocky/9.4/rocky.ova',
      sha256: ova.sha256,
      size: ova.size,
      files: ova.files,
      targets: ['zone:corp'],
    });
    expect(await world.listBucket()).toContain('rocky/9.4/rocky.ova.rocky@9.4.manifest.json');
    expect(await world.streamMessages()).toBe(events + 1);
  });
});

describe('HTTP API and Artifactory webhook', () => {
  const hook = (headers: Record<string, string>, body: unknown) =>
    fetch(`${daemon!.url}/hooks/artifactory`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  it('registers a deployed OVA only with the right X-JFrog-Event-Auth secret', async () => {
    const dir = join(world.dir, 'hook');
    await mkdir(dir, { recursive: true });
    const ova = await buildOva(dir, { name: 'fedora', seed: 'fed' });
    await putOva('fedora/41/fedora.ova', ova.path);
    const event = {
      event_type: 'deployed',
      data: {
        repo_key: 'images',
        path: 'fedora/41/fedora.ova',
        name: 'fedora.ova',
        sha256: ova.sha256,
        size: ova.size,
      },
    };

    const none = await hook({}, event);
    expect(none.status).toBe(401);
    const noneBody = await none.text();
    expect(noneBody).not.toContain('fedora');
    const wrong = await hook({ 'X-JFrog-Event-Auth': `${WEBHOOK_SECRET}x` }, event);
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).toBe(noneBody);
    await daemon!.idle();
    expect((await catalogManifests()).some((m) => m.name === 'fedora')).toBe(false);

    const right = await hook({ 'X-JFrog-Event-Auth': WEBHOOK_SECRET }, event);
    expect(right.status).toBe(202);
    expect(await right.json()).toMatchObject({ accepted: true, name: 'fedora', version: '41' });
    await daemon!.idle();
    expect((await catalogManifests()).find((m) => m.name === 'fedora')).toMatchObject({
      version: '41',
      sha256: ova.sha256,
      artifact: 'fedora/41/fedora.ova',
    });

    const ignored = await hook(
      { 'X-JFrog-Event-Auth': WEBHOOK_SECRET },
      { ...event, data: { ...event.data, path: 'x.txt' } },
    );
    expect(ignored.status).toBe(202);
    expect(await ignored.json()).toMatchObject({ ignored: 'not an .ova' });
  });

  it('serves the status JSON (with the API token) and health', async () => {
    expect((await fetch(`${daemon!.url}/healthz`)).status).toBe(200);
    expect((await fetch(`${daemon!.url}/api/status`)).status).toBe(401);
    const auth = { authorization: `Bearer ${API_TOKEN}` };
    const res = await fetch(`${daemon!.url}/api/status`, { headers: auth });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { schema: string; images: Array<{ name: string }>; sites: unknown[] };
    expect(body.schema).toBe('ferry/status/v1');
    expect(body.images.map((i) => i.name)).toEqual(expect.arrayContaining(['alma', 'fedora', 'rocky', 'ubuntu']));
    const images = (await (await fetch(`${daemon!.url}/api/images`, { headers: auth })).json()) as {
      images: unknown[];
    };
    expect(images.images).toEqual(body.images);
    const sites = (await (await fetch(`${daemon!.url}/api/sites`, { headers: auth })).json()) as { sites: unknown[] };
    expect(sites.sites).toEqual([]);
    const page = await fetch(`${daemon!.url}/`, { headers: auth });
    expect(await page.text()).toContain('fedora@41');
    expect((await fetch(`${daemon!.url}/api/nope`, { headers: auth })).status).toBe(404);
  });
});
