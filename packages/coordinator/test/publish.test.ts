/**
 * `ferry publish` against a real nats-server and a real s3rver: the object in the bucket is the
 * file's bytes, sidecar + catalog + one event, a single read of the file; same bytes are a no-op,
 * other bytes are refused unless --replace; invalid input leaves nothing behind.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Catalog, EVENT_SCHEMA, loadTrustedKeys, parseManifest, verifyManifest } from '@ferry/shared';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOva } from '../../../test/world/ova.js';
import { freePort } from '../../../test/world/ports.js';
import { openContextFromFile, publishFile } from '../src/index.js';
import { startWorld, type World } from './world.js';

let world: World;

beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world?.stop();
});

describe('ferry publish FILE', () => {
  it('uploads a 200 MiB OVA in one pass: exact bytes in S3, sidecar, catalog entry, one event', async () => {
    const dir = join(world.dir, 'big');
    await mkdir(dir, { recursive: true });
    const ova = await buildOva(dir, { name: 'ubuntu', diskSize: 200 * 2 ** 20, seed: 'big-1' });

    // Through the module, to see bytesRead (the CLI prints the same manifest).
    const ctx = await openContextFromFile(world.configFile, world.env);
    let lastProgress = 0;
    const result = await publishFile(ctx, {
      file: ova.path,
      name: 'ubuntu-22_04',
      version: '2026.11.21',
      labels: { os: 'ubuntu' },
      onProgress: (done) => {
        lastProgress = done;
      },
    }).finally(() => ctx.close());

    expect(result.status).toBe('published');
    expect(result.bytesRead).toBe(ova.size);
    expect(lastProgress).toBe(ova.size);
    const artifact = 'ubuntu-22_04/2026.11.21/ubuntu.ova';
    expect(result.manifest).toMatchObject({
      schema: 'ferry/manifest/v1',
      name: 'ubuntu-22_04',
      version: '2026.11.21',
      artifact,
      sha256: ova.sha256,
      size: ova.size,
      files: ova.files,
      targets: ['*'],
      labels: { os: 'ubuntu' },
    });
    expect(result.manifest.replaces).toBeUndefined();

    // The object in s3rver is exactly the file.
    // The OVA and its image version's own sidecar; the publish marker is gone.
    const sidecarKey = `${artifact}.ubuntu-22_04@2026.11.21.manifest.json`;
    expect(await world.listBucket()).toEqual([artifact, sidecarKey]);
    expect(await world.objectSha256(artifact)).toBe(ova.sha256);

    // The sidecar and the catalog hold the same signed manifest, which verifies with the public key.
    const trusted = await loadTrustedKeys([join(world.dir, 'keys', 'release.pub')]);
    const { GetObjectCommand } = await import('@aws-sdk/client-s3');
    const sidecarObj = await world.s3client.send(new GetObjectCommand({ Bucket: world.s3.bucket, Key: sidecarKey }));
    const sidecar = parseManifest(JSON.parse(await sidecarObj.Body!.transformToString()));
    expect(sidecar).toEqual(result.manifest);
    verifyManifest(sidecar, trusted);
    const catalog = new Catalog(await new Kvm(world.nc).open('ferry_catalog'));
    expect(await catalog.get('ubuntu-22_04', '2026.11.21')).toEqual(result.manifest);

    // One event, on ferry.events.all.published, with Nats-Msg-Id name@version:sha256.
    expect(await world.streamMessages()).toBe(1);
    const jsm = await jetstreamManager(world.nc);
    const msg = await jsm.streams.getMessage('FERRY_EVENTS', { last_by_subj: 'ferry.events.all.published' });
    expect(msg?.header?.get('Nats-Msg-Id')).toBe(`ubuntu-22_04@2026.11.21:${ova.sha256}`);
    const event = msg!.json<{ schema: string; kind: string; manifest: unknown }>();
    expect(event.schema).toBe(EVENT_SCHEMA);
    expect(event.kind).toBe('published');
    expect(event.manifest).toEqual(result.manifest);
  }, 60_000);

  describe('publishing the same name@version again', () => {
    const name = 'debian';
    const version = '12.1';
    let first: Awaited<ReturnType<typeof buildOva>>;
    let artifact: string;

    beforeAll(async () => {
      const dir = join(world.dir, 'again-1');
      await mkdir(dir, { recursive: true });
      first = await buildOva(dir, { name: 'debian', diskSize: 3 * 2 ** 20, seed: 'debian-a' });
      artifact = `${name}/${version}/debian.ova`;
      const r = await world.ferry('publish', first.path, '--name', name, '--version', version, '--target', 'zone:dmz');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`published ${name}@${version}`);
    });

    it('with the same bytes is a no-op that says so, and stores no second event', async () => {
      const before = await world.streamMessages();
      const r = await world.ferry('publish', first.path, '--name', name, '--version', version);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('already published');
      expect(await world.streamMessages()).toBe(before);
      expect(await world.objectSha256(artifact)).toBe(first.sha256);
    });

    it('with other bytes is refused (exit 1, one line) and changes nothing', async () => {
      const dir = join(world.dir, 'again-2');
      await mkdir(dir, { recursive: true });
      // Same size, other bytes: the refusal can only come after hashing, i.e. after the upload ran.
      const other = await buildOva(dir, { name: 'debian', diskSize: 3 * 2 ** 20, seed: 'debian-b' });
      expect(other.size).toBe(first.size);
      const catalogBefore = await world.ferry('status', `${name}@${version}`, '--json');
      const events = await world.streamMessages();
      const r = await world.ferry('publish', other.path, '--name', name, '--version', version);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).toMatch(/^ferry: debian@12\.1 is already published .*--replace/);
      expect(await world.objectSha256(artifact)).toBe(first.sha256);
      expect(await world.streamMessages()).toBe(events);
      const catalogAfter = await world.ferry('status', `${name}@${version}`, '--json');
      expect(JSON.parse(catalogAfter.stdout).images).toEqual(JSON.parse(catalogBefore.stdout).images);

      // A different size is refused before the file is even read.
      const small = await buildOva(join(world.dir, 'again-2'), { name: 'small', diskSize: 1024, seed: 'x' });
      const r2 = await world.ferry('publish', small.path, '--name', name, '--version', version);
      expect(r2.code).toBe(1);
      expect(r2.stderr).toMatch(/different size/);
      expect(await world.listBucket()).not.toContain(`${name}/${version}/small.ova`);
    });

    it('with other bytes and --replace is accepted and records what it replaced', async () => {
      const dir = join(world.dir, 'again-3');
      await mkdir(dir, { recursive: true });
      const other = await buildOva(dir, { name: 'debian', diskSize: 3 * 2 ** 20, seed: 'debian-c' });
      const events = await world.streamMessages();
      const r = await world.ferry('publish', other.path, '--name', name, '--version', version, '--replace', '--json');
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const manifest = parseManifest(JSON.parse(r.stdout));
      expect(manifest.sha256).toBe(other.sha256);
      expect(manifest.replaces).toBe(first.sha256);
      expect(await world.objectSha256(artifact)).toBe(other.sha256);
      expect(await world.streamMessages()).toBe(events + 1);
    });
  });
});

describe('ferry publish --from-store', () => {
  it('registers an object already in the store, checking the sha256 the store recorded', async () => {
    const { PutObjectCommand } = await import('@aws-sdk/client-s3');
    const { readFile } = await import('node:fs/promises');
    const dir = join(world.dir, 'from-store');
    await mkdir(dir, { recursive: true });
    const ova = await buildOva(dir, { name: 'packer', seed: 'fs-1' });
    const body = await readFile(ova.path);
    const put = (key: string, sha256: string) =>
      world.s3client.send(
        new PutObjectCommand({ Bucket: world.s3.bucket, Key: key, Body: body, Metadata: { sha256 } }),
      );

    await put('builds/packer-bad.ova', 'f'.repeat(64));
    const bad = await world.ferry(
      'publish',
      '--from-store',
      'builds/packer-bad.ova',
      '--name',
      'packer',
      '--version',
      '1',
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^ferry: sha256 mismatch for builds\/packer-bad\.ova \(sha256 recorded by s3:/);
    expect(await world.catalogKeys()).not.toContain('packer.1');

    await put('builds/packer.ova', ova.sha256);
    const events = await world.streamMessages();
    const r = await world.ferry(
      'publish',
      '--from-store',
      'builds/packer.ova',
      '--name',
      'packer',
      '--version',
      '1',
      '--json',
    );
    expect(r.code, r.stderr).toBe(0);
    const manifest = parseManifest(JSON.parse(r.stdout));
    expect(manifest).toMatchObject({
      artifact: 'builds/packer.ova',
      sha256: ova.sha256,
      size: ova.size,
      files: ova.files,
    });
    expect(await world.listBucket()).toContain('builds/packer.ova.packer@1.manifest.json');
    expect(await world.streamMessages()).toBe(events + 1);

    const missing = await world.ferry('publish', '--from-store', 'builds/nope.ova', '--name', 'nope', '--version', '1');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^ferry: builds\/nope\.ova not found in s3:/);
  });
});

describe('ferry publish refuses bad input and leaves nothing behind', () => {
  let before: string[];
  let catalogBefore: string[];
  let eventsBefore: number;

  beforeAll(async () => {
    before = await world.listBucket();
    catalogBefore = await world.catalogKeys();
    eventsBefore = await world.streamMessages();
  });

  const nothingChanged = async () => {
    expect(await world.listBucket()).toEqual(before);
    expect(await world.catalogKeys()).toEqual(catalogBefore);
    expect(await world.streamMessages()).toBe(eventsBefore);
  };

  it('a name with a space', async () => {
    const dir = join(world.dir, 'bad-name');
    await mkdir(dir, { recursive: true });
    const ova = await buildOva(dir, { name: 'ok' });
    const r = await world.ferry('publish', ova.path, '--name', 'my image', '--version', '1');
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^ferry: invalid name "my image"/);
    await nothingChanged();
  });

  it('a missing file', async () => {
    const r = await world.ferry('publish', join(world.dir, 'nope.ova'), '--name', 'nope', '--version', '1');
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^ferry: .*nope\.ova does not exist/);
    await nothingChanged();
  });

  it('a file of random bytes', async () => {
    const file = join(world.dir, 'random.ova');
    await writeFile(file, randomBytes(3 * 2 ** 20));
    const r = await world.ferry('publish', file, '--name', 'random', '--version', '1');
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^ferry: OVA/);
    await nothingChanged();
  });

  it('a 40 MiB OVA whose .mf does not match its disk (found only at the end, after multipart parts went up)', async () => {
    const dir = join(world.dir, 'bad-mf');
    await mkdir(dir, { recursive: true });
    const ova = await buildOva(dir, {
      name: 'badmf',
      diskSize: 40 * 2 ** 20,
      mutate: (entries) =>
        entries.map((e) =>
          e.name.endsWith('.mf')
            ? {
                ...e,
                body: Buffer.from(
                  (e.body as Buffer)
                    .toString('utf8')
                    .replace(/(vmdk\)= )([0-9a-f])/, (_m, p, c) => `${p}${c === '0' ? '1' : '0'}`),
                ),
              }
            : e,
        ),
    });
    const r = await world.ferry('publish', ova.path, '--name', 'badmf', '--version', '1');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^ferry: sha256 mismatch for OVA entry "badmf-disk1\.vmdk"/);
    // The whole file was read (progress to 100 %) before the mismatch: the last line says it failed.
    expect(r.stdout.trimEnd().split('\n').at(-1)).toBe('badmf.ova: failed; nothing was published (the error follows)');
    await nothingChanged();
  });

  it('usage errors exit 2', async () => {
    const r = await world.ferry('publish', '--name', 'x', '--version', '1');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^ferry: missing FILE/);
    const r2 = await world.ferry('publish', 'x.ova', '--version', '1');
    expect(r2.code).toBe(2);
    expect(r2.stderr).toMatch(/^ferry: required option '--name <name>'/);
    // A bad value typed on the command line is a usage error too, whichever option it is.
    const badName = await world.ferry('publish', 'x.ova', '--name', 'no spaces', '--version', '1');
    expect(badName.code).toBe(2);
    const badLabel = await world.ferry('publish', 'x.ova', '--name', 'x', '--version', '1', '--label', 'novalue');
    expect(badLabel.code).toBe(2);
    expect(badLabel.stderr).toMatch(/^ferry: invalid --label "novalue"/);
  });
});

describe('ferry publish to an unreachable store', () => {
  it('fails with one line naming store.endpoint, before reading the file', async () => {
    const closed = await freePort();
    const file = join(world.dir, 'unreachable.yaml');
    const text = await readFile(world.configFile, 'utf8');
    await writeFile(file, text.replace(/endpoint: \S+/, `endpoint: http://127.0.0.1:${closed}`));
    const ova = await buildOva(world.dir, { name: 'nowhere', seed: 'nowhere-1' });
    const r = await world.ferry('publish', ova.path, '--name', 'nowhere', '--version', '1', '--config', file);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^ferry: .*network error \(ECONNREFUSED\): check store\.endpoint and that the store is reachable\n$/,
    );
    expect(r.stderr).not.toContain('will retry');
    // The preflight (the in-progress marker is the first write) meets the store before a byte of
    // the file is read: no progress to take back.
    expect(r.stdout).toBe('');
    expect(await world.catalogKeys()).not.toContain('nowhere.1');
  });
});
