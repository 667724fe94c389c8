import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import {
  CacheError,
  ChecksumMismatchError,
  createStore,
  isRetryable,
  loadAgentConfig,
  type Manifest,
  OvaFormatError,
  silentLogger,
} from '@ferry/shared';
import { type AgentRuntime, createAgentRuntime, runAgentCli } from '@ferry/site-agent/internal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeAgentConfig } from '../../../test/support/agent-config.js';
import { makeTestKey, stageImage, type TestKey } from '../../../test/support/images.js';
import { waitFor } from '../../../test/support/wait.js';
import { type FaultProxy, startFaultProxy } from '../../../test/world/fault-proxy.js';
import { type BuiltOva, buildOva, sha256Of, type TarEntrySpec } from '../../../test/world/ova.js';
import { type S3Handle, startS3 } from '../../../test/world/s3.js';
import { startVcsim, type VcsimHandle } from '../../../test/world/vcsim.js';

const MiB = 2 ** 20;
let dir: string;
let s3: S3Handle;
let vcsim: VcsimHandle;
let key: TestKey;
let configFile: string;
let rt: AgentRuntime;

function capture() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const text = { out: '', err: '' };
  stdout.on('data', (d) => (text.out += d));
  stderr.on('data', (d) => (text.err += d));
  return { io: { stdout, stderr }, text };
}

async function runtimeFor(site: string, extra: Partial<Parameters<typeof writeAgentConfig>[0]> = {}) {
  const file = await writeAgentConfig({
    dir: join(dir, site),
    site,
    s3,
    vcsim,
    publicKeyFile: key.publicKeyFile,
    ...extra,
  });
  const config = await loadAgentConfig(file);
  const runtime = await createAgentRuntime(config, silentLogger());
  await runtime.cache.init();
  return runtime;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-datapath-'));
  [s3, vcsim] = await Promise.all([startS3(), startVcsim()]);
  key = await makeTestKey(dir);
  configFile = await writeAgentConfig({
    dir: join(dir, 'site-a'),
    site: 'site-a',
    s3,
    vcsim,
    publicKeyFile: key.publicKeyFile,
  });
  rt = await createAgentRuntime(await loadAgentConfig(configFile), silentLogger());
  await rt.cache.init();
});

afterAll(async () => {
  await vcsim?.stop();
  await s3?.destroy();
  await rm(dir, { recursive: true, force: true });
});

async function build(name: string, diskSize: number, extra: Parameters<typeof buildOva>[1] = {}): Promise<BuiltOva> {
  const sub = join(dir, 'ovas', name);
  await mkdir(sub, { recursive: true });
  return buildOva(sub, { name, diskSize, seed: name, ...extra });
}

async function itemFor(runtime: AgentRuntime, m: Manifest) {
  return runtime.importer.findItem(m);
}

describe('data path: store → verified cache → OVA → Content Library (s3rver, vcsim)', () => {
  let hostile = 0;
  let big: BuiltOva;
  let bigManifest: Manifest;

  it('imports a 200 MiB OVA through `ferry-agent import`, byte for byte', async () => {
    big = await build('ubuntu', 200 * MiB);
    bigManifest = await stageImage(rt.store, key, big, { name: 'ubuntu', version: '2026.11.21' });
    const manifestFile = join(dir, 'ubuntu.manifest.json');
    await writeFile(manifestFile, JSON.stringify(bigManifest));

    const { io, text } = capture();
    const code = await runAgentCli(['import', '--config', configFile, '--manifest', manifestFile], io);
    expect(text.err).toBe('');
    expect(code).toBe(0);
    expect(text.out).toMatch(/imported into library golden-images as ubuntu-2026\.11\.21/);

    const item = await itemFor(rt, bigManifest);
    expect(item).toBeDefined();
    const files = await rt.library.listFiles(item!.id);
    expect(files.map((f) => [f.name, f.size]).sort()).toEqual(big.files.map((f) => [f.name, f.size]).sort());
    for (const f of big.files) {
      const bytes = await rt.library.downloadFile(item!.id, f.name);
      expect(await sha256Of(bytes), f.name).toBe(f.sha256);
    }
  });

  it('a second import of the same sha256 uploads nothing', async () => {
    const manifestFile = join(dir, 'ubuntu.manifest.json');
    const itemBefore = await itemFor(rt, bigManifest);
    const { io, text } = capture();
    const code = await runAgentCli(['import', '--config', configFile, '--manifest', manifestFile, '--json'], io);
    expect(code).toBe(0);
    const result = JSON.parse(text.out) as {
      skipped: boolean;
      bytesUploaded: number;
      bytesDownloaded: number;
      itemId: string;
    };
    expect(result).toMatchObject({ skipped: true, bytesUploaded: 0, bytesDownloaded: 0, itemId: itemBefore!.id });
    const items = await rt.library.listItems(await rt.libraryId());
    expect(items.filter((i) => i.name === 'ubuntu-2026.11.21')).toHaveLength(1);
  });

  it('resumes a download cut mid-transfer and reads < 1.2× the object from the store', async () => {
    const proxy: FaultProxy = await startFaultProxy(s3.port);
    try {
      const site = await runtimeFor('site-resume', { s3Endpoint: proxy.url });
      proxy.cutAfterBytes(70 * MiB);
      const result = await site.importer.import({ manifest: bigManifest, force: true });
      // Every byte read from the store once: the resume asked only for what was missing.
      expect(result.bytesDownloaded).toBe(big.size);
      expect(proxy.connections).toBeGreaterThan(1);
      expect(proxy.bytesFromUpstream).toBeLessThan(1.2 * big.size);
      expect(proxy.bytesFromUpstream).toBeGreaterThanOrEqual(big.size);
      const cached = await readFile(site.cache.finalPath(big.sha256));
      expect(createHash('sha256').update(cached).digest('hex')).toBe(big.sha256);
    } finally {
      await proxy.stop();
    }
  });

  it('a corrupted object ends in ChecksumMismatchError, no item, no cache file', async () => {
    const ova = await build('corrupt', 2 * MiB);
    const manifest = await stageImage(rt.store, key, ova, { name: 'corrupt', version: '1' });
    const bytes = await readFile(ova.path);
    bytes[bytes.length - 2000]! ^= 0xff;
    const store = createStore(rt.config.store);
    await store.put(manifest.artifact, new PassThrough().end(bytes), { size: bytes.length });

    const err = await rt.importer.import({ manifest }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    expect(await itemFor(rt, manifest)).toBeUndefined();
    const left = (await readdir(rt.cache.dir)).filter((n) => n.startsWith(manifest.sha256));
    expect(left).toEqual([]);
  });

  /**
   * Imports `manifest`, recording how far the upload got before it ended. With `stalled`, the
   * store's answer is held near its end until the upload has sent bytes, so the upload has
   * started before the object's SHA-256 can be proven, however fast either side runs.
   */
  /** Imports; a `stalled` download is released once more than `releaseAfter` bytes are uploaded. */
  async function importWatchingUpload(
    runtime: AgentRuntime,
    manifest: Manifest,
    stalled?: FaultProxy,
    releaseAfter = 0,
  ) {
    let uploaded = 0;
    let overlapped = false;
    const released = stalled
      ? waitFor(() => uploaded > releaseAfter, { what: 'the upload to go on while the download is held' }).then(() =>
          stalled.release(),
        )
      : Promise.resolve();
    const err = await runtime.importer
      .import({
        manifest,
        onProgress: (p) => {
          if (p.state !== 'importing') return;
          uploaded = Math.max(uploaded, p.bytesDone);
          if (p.bytesDownloaded !== undefined) overlapped = true;
        },
      })
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    await released;
    return { err, uploaded, overlapped };
  }

  it('a corrupted LAST byte of the object fails the started upload: no item, no open update session', async () => {
    const ova = await build('lastbyte', 24 * MiB);
    const manifest = await stageImage(rt.store, key, ova, { name: 'lastbyte', version: '1' });
    const bytes = await readFile(ova.path);
    bytes[bytes.length - 1]! ^= 0xff; // tar padding: every entry still reads fine, only the object's SHA-256 differs
    await createStore(rt.config.store).put(manifest.artifact, new PassThrough().end(bytes), { size: bytes.length });
    const proxy = await startFaultProxy(s3.port);
    try {
      const site = await runtimeFor('site-lastbyte', { s3Endpoint: proxy.url });
      proxy.stallAfterBytes(bytes.length - 64 * 1024);
      const { err, uploaded } = await importWatchingUpload(site, manifest, proxy);
      expect(err).toBeInstanceOf(ChecksumMismatchError);
      expect(err!.message).toContain(manifest.sha256);
      // The upload ran ahead of the proof, yet nothing was completed.
      expect(uploaded).toBeGreaterThan(0);
      expect(await itemFor(site, manifest)).toBeUndefined();
      expect(await site.library.listUpdateSessions({ activeOnly: true })).toEqual([]);
      expect((await readdir(site.cache.dir)).filter((n) => n.startsWith(manifest.sha256))).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });

  it('a .mf mismatch in the LAST entry fails the started upload: no item, no open update session', async () => {
    const ova = await build('lastentry', 8 * MiB, {
      disks: 2,
      mutate: (e) => [...e.slice(0, -1), { name: e.at(-1)!.name, body: { size: 8 * MiB, seed: 'tampered' } }],
    });
    const manifest = await stageImage(rt.store, key, ova, { name: 'lastentry', version: '1' });
    const proxy = await startFaultProxy(s3.port);
    try {
      const site = await runtimeFor('site-lastentry', { s3Endpoint: proxy.url });
      // The download waits in the middle of the last disk until the first disk is in the session
      // (the proof runs beside the upload and would otherwise find the mismatch first).
      proxy.stallAfterBytes(ova.size - 4 * MiB);
      const { err, uploaded } = await importWatchingUpload(site, manifest, proxy, 8 * MiB);
      expect(err).toBeInstanceOf(ChecksumMismatchError);
      expect(err!.message).toMatch(/"lastentry-disk2\.vmdk" \(per lastentry\.mf\)/);
      expect(uploaded).toBeGreaterThan(8 * MiB); // the first disk was already in the session
      expect(await itemFor(site, manifest)).toBeUndefined();
      expect(await site.library.listUpdateSessions({ activeOnly: true })).toEqual([]);
    } finally {
      await proxy.stop();
    }
  });

  it('a vCenter outage mid-import: the retry imports from the cache without downloading again', async () => {
    const vc = await startVcsim();
    const proxy = await startFaultProxy(s3.port);
    try {
      const ova = await build('outage', 96 * MiB);
      const manifest = await stageImage(rt.store, key, ova, { name: 'outage', version: '1' });
      const site = await runtimeFor('site-outage', { s3Endpoint: proxy.url, vcsim: vc });
      let killed = false;
      const err = await site.importer
        .import({
          manifest,
          onProgress: (p) => {
            if (!killed && p.state === 'importing' && p.bytesDone > 0) {
              killed = true;
              vc.kill();
            }
          },
        })
        .then(
          () => undefined,
          (e: unknown) => e as Error,
        );
      expect(killed).toBe(true);
      expect(err).toBeInstanceOf(Error);
      // vcsim forgets its state on restart: a fresh runtime finds (creates) the library again.
      await vc.restart();
      const again = await runtimeFor('site-outage', { s3Endpoint: proxy.url, vcsim: vc });
      const retry = await again.importer.import({ manifest });
      expect(retry.bytesDownloaded).toBe(0);
      expect(proxy.bytesFromUpstream).toBeLessThan(1.2 * ova.size);
      const item = await itemFor(again, manifest);
      expect(item?.id).toBe(retry.itemId);
      for (const f of ova.files) {
        expect(await sha256Of(await again.library.downloadFile(item!.id, f.name)), f.name).toBe(f.sha256);
      }
    } finally {
      await proxy.stop();
      await vc.stop();
    }
  });

  it('a cached file gone bad on disk: the attempt fails retryable, no item; the retry imports the bytes downloaded again', async () => {
    const proxy = await startFaultProxy(s3.port);
    try {
      const ova = await build('rotten', 8 * MiB);
      const manifest = await stageImage(rt.store, key, ova, { name: 'rotten', version: '1' });
      const site = await runtimeFor('site-rotten', { s3Endpoint: proxy.url });
      const first = await site.importer.import({ manifest });
      await site.library.deleteItem(first.itemId);
      // One byte of the disk flipped in the cached file: its OVA is proven while the cache checks
      // its SHA-256 again, and that proof must not count.
      const cached = site.cache.finalPath(ova.sha256);
      const bytes = await readFile(cached);
      bytes[bytes.length >> 1]! ^= 0xff;
      await writeFile(cached, bytes);
      // Restarted: the proof the first import kept is gone with the process.
      const again = await runtimeFor('site-rotten', { s3Endpoint: proxy.url });

      const err = (await again.importer.import({ manifest }).catch((e: unknown) => e)) as Error;
      expect(err).toBeInstanceOf(CacheError);
      expect(isRetryable(err)).toBe(true);
      expect(err.message).toMatch(/did not match its SHA-256/);
      expect(await itemFor(again, manifest)).toBeUndefined();
      expect(await again.library.listUpdateSessions({ activeOnly: true })).toEqual([]);

      const retry = await again.importer.import({ manifest });
      expect(retry.bytesDownloaded).toBe(0); // the failed attempt let the download finish into the cache
      // Downloaded twice in all (first, and again after the check), never a third time.
      expect(proxy.bytesFromUpstream).toBeGreaterThanOrEqual(2 * ova.size);
      expect(proxy.bytesFromUpstream).toBeLessThan(2.2 * ova.size);
      for (const f of ova.files) {
        expect(await sha256Of(await again.library.downloadFile(retry.itemId, f.name)), f.name).toBe(f.sha256);
      }
    } finally {
      await proxy.stop();
    }
  });

  it.each([
    ['a ../evil entry', (e: TarEntrySpec[]) => [...e, { name: '../evil', body: Buffer.from('x') }], /"\.\.\/evil"/],
    [
      'a symlink entry',
      (e: TarEntrySpec[]) => [...e, { name: 'link.vmdk', type: 'symlink' as const, linkname: '/etc/shadow' }],
      /"link\.vmdk".*symlink/,
    ],
    [
      'a .mf that disagrees with a file',
      (e: TarEntrySpec[]) => [e[0]!, e[1]!, { name: e[2]!.name, body: { size: 1 * MiB, seed: 'tampered' } }],
      /"hostile-\d-disk1\.vmdk" \(per hostile-\d\.mf\)/,
    ],
  ])(
    'rejects an OVA with %s, naming the entry, leaving no item and no open session',
    async (_label, mutate, message) => {
      hostile += 1;
      const name = `hostile-${hostile}`;
      const ova = await build(name, 1 * MiB, { mutate });
      const version = '1';
      const manifest = await stageImage(rt.store, key, ova, { name, version });
      const err = (await rt.importer.import({ manifest }).catch((e: unknown) => e)) as Error;
      expect(err).toBeInstanceOf(Error);
      expect(err instanceof OvaFormatError || err instanceof ChecksumMismatchError).toBe(true);
      expect(err.message).toMatch(message);
      expect(await itemFor(rt, manifest)).toBeUndefined();
      expect(await rt.library.listUpdateSessions({ activeOnly: true })).toEqual([]);
    },
  );

  it('with 6 images queued and imports: 2, at most 2 update sessions are open at once', async () => {
    const site = await runtimeFor('site-queue', { concurrency: { downloads: 3, imports: 2 } });
    const manifests: Manifest[] = [];
    for (let i = 0; i < 6; i++) {
      const ova = await build(`q${i}`, 12 * MiB);
      manifests.push(await stageImage(site.store, key, ova, { name: `q${i}`, version: '1' }));
    }
    // vcsim counts its own update sessions: every overshoot shows, however short.
    const before = await vcsim.updateSessions({ resetPeak: true });
    expect(before.open).toBe(0);
    const results = await Promise.all(manifests.map((manifest) => site.importer.import({ manifest })));
    expect(results.every((r) => !r.skipped && r.itemId)).toBe(true);
    const after = await vcsim.updateSessions();
    expect(after.created - before.created).toBe(6);
    expect(after.peak).toBe(2);
    expect(after.open).toBe(0);
    expect(site.queues.peak.imports).toBe(2);
    expect(site.queues.peak.downloads).toBeLessThanOrEqual(3);
  });
});
