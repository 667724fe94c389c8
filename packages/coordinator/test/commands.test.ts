/**
 * The other `ferry` commands against a real nats-server and s3rver: keygen, status/sites --json,
 * republish, retire, reconcile, suspend/resume, --help.
 */
import { createPublicKey } from 'node:crypto';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { keyIdOf, loadTrustedKeys, parseManifest, statusKey, verifyManifest } from '@ferry/shared';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../../test/support/wait.js';
import { buildOva } from '../../../test/world/ova.js';
import { runCli } from '../src/index.js';
import { startWorld, type World } from './world.js';

let world: World;
let sha256: string;

beforeAll(async () => {
  world = await startWorld();
  const ova = await buildOva(world.dir, { name: 'centos', seed: 'c1' });
  sha256 = ova.sha256;
  const r = await world.ferry('publish', ova.path, '--name', 'centos', '--version', '7.9', '--target', 'dc1');
  expect(r.code, r.stderr).toBe(0);
});
afterAll(async () => {
  await world?.stop();
});

async function lastEvent(subject: string): Promise<{ seq: number; data: Record<string, unknown> } | undefined> {
  const jsm = await jetstreamManager(world.nc);
  try {
    const m = await jsm.streams.getMessage('FERRY_EVENTS', { last_by_subj: subject });
    return m ? { seq: m.seq, data: m.json<Record<string, unknown>>() } : undefined;
  } catch {
    return undefined;
  }
}

describe('ferry keygen', () => {
  it('writes a 0600 private key and prints the key id and both paths', async () => {
    const out = join(world.dir, 'newkeys', 'release');
    const r = await world.ferry('keygen', '--out', out);
    expect(r.code, r.stderr).toBe(0);
    expect((await stat(`${out}.key`)).mode & 0o777).toBe(0o600);
    const keyId = keyIdOf(createPublicKey(await readFile(`${out}.pub`, 'utf8')));
    expect(r.stdout).toContain(keyId);
    expect(r.stdout).toContain(`${out}.key`);
    expect(r.stdout).toContain(`${out}.pub`);
    expect(r.stdout).not.toContain('PRIVATE KEY');

    const again = await world.ferry('keygen', '--out', out);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^ferry: .*release\.key already exists/);
    // A file where a directory of --out should be: one line, not "internal error: EEXIST".
    const underFile = await world.ferry('keygen', '--out', join(world.configFile, 'k'));
    expect(underFile.code).toBe(1);
    expect(underFile.stderr).toBe(
      `ferry: --out ${join(world.configFile, 'k')}: ${world.configFile} is a file, not a directory: choose another --out\n`,
    );
  });
});

describe('ferry status and sites', () => {
  beforeAll(async () => {
    const kvm = new Kvm(world.nc);
    const sites = await kvm.open('ferry_sites');
    const status = await kvm.open('ferry_status');
    const now = Date.now();
    await sites.put(
      'dc1',
      JSON.stringify({
        site: 'dc1',
        zone: 'corp',
        labels: { region: 'eu' },
        agentVersion: '0.1.0',
        lastSeen: new Date(now - 2_000).toISOString(),
        queueDepth: 2,
        ready: true,
        notReady: [],
      }),
    );
    await sites.put(
      'dc2',
      JSON.stringify({
        site: 'dc2',
        zone: 'dmz',
        agentVersion: '0.1.0',
        lastSeen: new Date(now - 3_600_000).toISOString(),
      }),
    );
    await status.put(
      statusKey('dc1', 'centos', '7.9'),
      JSON.stringify({
        site: 'dc1',
        name: 'centos',
        version: '7.9',
        sha256,
        state: 'importing',
        bytesDone: 300,
        bytesTotal: 1200,
        attempts: 1,
        updatedAt: new Date(now - 5_000).toISOString(),
        agentVersion: '0.1.0',
      }),
    );
    await status.put(
      'dc1._reconcile',
      JSON.stringify({
        site: 'dc1',
        startedAt: new Date(now - 60_000).toISOString(),
        finishedAt: new Date(now - 59_000).toISOString(),
        trigger: 'start',
        counts: { import: 1 },
      }),
    );
  });

  it('--json has the documented shape', async () => {
    const r = await world.ferry('status', '--json');
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout);
    expect(Object.keys(doc)).toEqual(['schema', 'generatedAt', 'sites', 'images']);
    expect(doc.schema).toBe('ferry/status/v1');
    expect(doc.sites).toHaveLength(2);
    expect(doc.sites[0]).toEqual({
      site: 'dc1',
      zone: 'corp',
      labels: { region: 'eu' },
      stale: false,
      suspended: false,
      suspendRequested: false,
      suspension: null,
      ready: true,
      notReady: [],
      lastSeen: expect.any(String),
      agentVersion: '0.1.0',
      queueDepth: 2,
      activeDownloads: 0,
      activeImports: 0,
      lastReconcile: {
        startedAt: expect.any(String),
        finishedAt: expect.any(String),
        trigger: 'start',
        dryRun: false,
        counts: { import: 1, reimport: 0, delete: 0, keep: 0, ignored: 0 },
        errors: [],
      },
    });
    expect(doc.sites[1]).toMatchObject({ site: 'dc2', stale: true, lastReconcile: null });
    expect(doc.images).toEqual([
      {
        name: 'centos',
        version: '7.9',
        sha256,
        size: expect.any(Number),
        publishedAt: expect.any(String),
        retired: false,
        retiredAt: null,
        inCatalog: true,
        targets: ['dc1'],
        sites: {
          dc1: {
            state: 'importing',
            bytesDone: 300,
            bytesTotal: 1200,
            bytesDownloaded: null,
            percent: 25,
            error: null,
            updatedAt: expect.any(String),
            attempts: 1,
            retryAt: null,
            outdated: false,
            refused: null,
            wave: null,
            check: null,
          },
        },
        rollout: null,
      },
    ]);
  });

  it('prints the matrix, filtered by image and site', async () => {
    const r = await world.ferry('status', 'centos@7.9', '--site', 'dc1');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^IMAGE\s+PUBLISHED\s+dc1\n/);
    expect(r.stdout).toMatch(/centos@7\.9\s+\d+s\s+importing 25% \d+s/);
    expect(r.stdout).not.toContain('dc2');
  });

  it('names what a filter does not know: image (exit 1), version, site; several --site', async () => {
    const none = await world.ferry('status', 'nothing');
    expect(none).toMatchObject({ code: 1, stdout: '', stderr: 'ferry: no image named nothing (see: ferry status)\n' });
    const version = await world.ferry('status', 'centos@0.1');
    expect(version).toMatchObject({ code: 1, stderr: 'ferry: no version 0.1 of centos (known: 7.9)\n' });
    const site = await world.ferry('status', '--site', 'nowhere');
    expect(site.code).toBe(1);
    expect(site.stderr).toBe('ferry: unknown site nowhere (sites: dc1, dc2; see: ferry sites)\n');
    const both = JSON.parse((await world.ferry('status', '--site', 'dc1', '--site', 'dc2', '--json')).stdout);
    expect(both.sites.map((s: { site: string }) => s.site)).toEqual(['dc1', 'dc2']);
  });

  it('status and sites need no signing: block; the legend explains none and -', async () => {
    const file = join(world.dir, 'read-only.yaml');
    const text = await readFile(world.configFile, 'utf8');
    await writeFile(file, text.replace(/^signing:\n {2}privateKeyFile: .*\n/m, ''));
    expect(await readFile(file, 'utf8')).not.toContain('signing');
    const r = await world.ferry('status', '--config', file);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('none: targeted, no status yet · -: not targeted');
    expect((await world.ferry('sites', '--config', file)).code).toBe(0);
    const retire = await world.ferry('retire', 'centos@7.9', '--config', file);
    expect(retire.code).toBe(1);
    expect(retire.stderr).toMatch(/^ferry: .*signing\.privateKeyFile is not set: this command signs manifests/);
  });

  it('--watch into a pipe prints plain snapshots, no clear-screen codes', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (c: Buffer) => {
      text += c.toString('utf8');
    });
    const stop = new AbortController();
    const running = runCli(['status', '--watch', '--config', world.configFile], {
      stdout: out,
      stderr: new PassThrough(),
      env: world.env,
      signal: stop.signal,
    });
    const frames = () => text.split(/^\d{4}-\d\d-\d\dT.*Z$/m).filter((f) => f.trim());
    // Stopped once it has printed two snapshots, however long a busy machine takes to get there.
    await waitFor(() => frames().length >= 2, { what: 'two --watch snapshots', intervalMs: 50 });
    stop.abort();
    expect(await running).toBe(0);
    expect(text).not.toContain('\x1b[');
    expect(frames()[0]).toContain('centos@7.9');
    expect(frames()[1]).toContain('centos@7.9');
  });

  it('--watch on a terminal redraws in place every second until stopped', async () => {
    const out = Object.assign(new PassThrough(), { isTTY: true });
    let text = '';
    out.on('data', (c: Buffer) => {
      text += c.toString('utf8');
    });
    const stop = new AbortController();
    const running = runCli(['status', '--watch', '--config', world.configFile], {
      stdout: out,
      stderr: new PassThrough(),
      env: world.env,
      signal: stop.signal,
    });
    const frames = () => text.split('\x1b[2J\x1b[H').filter(Boolean);
    // Stopped once it has redrawn, however long a busy machine takes to get there.
    await waitFor(() => frames().length >= 2, { what: 'two --watch frames', intervalMs: 50 });
    stop.abort();
    expect(await running).toBe(0);
    expect(frames()[0]).toContain('centos@7.9');
    expect(frames()[1]).toContain('centos@7.9');
  });

  it('ferry sites lists sites with stale marking', async () => {
    const r = await world.ferry('sites');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^dc1\s+corp\s+\d+s\s+0\.1\.0\s+2\s+0\s+0\s+ok$/m);
    const kvm = new Kvm(world.nc);
    const sites = await kvm.open('ferry_sites');
    const dc1 = (await sites.get('dc1'))!.json<Record<string, unknown>>();
    await sites.put(
      'dc1',
      JSON.stringify({ ...dc1, ready: false, notReady: ['vcenter: vSphere login: rejected user "ferry"'] }),
    );
    const notReady = await world.ferry('sites');
    expect(notReady.stdout).toMatch(/^dc1\s+corp\s.*NOT READY$/m);
    expect(notReady.stdout).toContain('dc1: not ready: vcenter: vSphere login: rejected user "ferry"');
    await sites.put('dc1', JSON.stringify(dc1));
    expect(r.stdout).toMatch(/^dc2\s+dmz\s+1h\s+.*STALE$/m);
    const j = JSON.parse((await world.ferry('sites', '--json')).stdout);
    expect(j.sites.map((s: { site: string }) => s.site)).toEqual(['dc1', 'dc2']);
  });

  it('suspend and resume write <site>._control in ferry_status', async () => {
    const r = await world.ferry('suspend', '--site', 'dc1', '--reason', 'maintenance');
    expect(r.code, r.stderr).toBe(0);
    const status = await new Kvm(world.nc).open('ferry_status');
    expect((await status.get('dc1._control'))?.json()).toMatchObject({
      schema: 'ferry/site-control/v1',
      site: 'dc1',
      suspended: true,
      reason: 'maintenance',
    });
    const doc = JSON.parse((await world.ferry('status', '--json')).stdout);
    expect(doc.sites[0]).toMatchObject({
      site: 'dc1',
      suspendRequested: true,
      suspension: { reason: 'maintenance', by: expect.stringContaining('@'), at: expect.any(String) },
    });
    for (const cmd of ['sites', 'status']) {
      expect((await world.ferry(cmd)).stdout).toMatch(/^dc1: suspended by \S+@\S+ \d+s ago: maintenance$/m);
    }
    // Not a status record: the images are unchanged.
    expect(Object.keys(doc.images[0].sites)).toEqual(['dc1']);

    expect((await world.ferry('resume', '--site', 'dc1')).code).toBe(0);
    expect((await status.get('dc1._control'))?.json()).toMatchObject({ suspended: false });
    const bad = await world.ferry('suspend', '--site', 'all');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^ferry: invalid site "all"/);
  });
});

describe('ferry republish, reconcile, retire', () => {
  it('republish announces the catalog manifest on all, or once per --site', async () => {
    const r = await world.ferry('republish', 'centos@7.9', '--force');
    expect(r.code, r.stderr).toBe(0);
    const ev = await lastEvent('ferry.events.all.republish');
    expect(ev?.data).toMatchObject({ kind: 'republish', force: true, manifest: { name: 'centos', sha256 } });

    const before = await world.streamMessages();
    const r2 = await world.ferry('republish', 'centos@7.9', '--site', 'dc1', '--site', 'dc2');
    expect(r2.code, r2.stderr).toBe(0);
    expect(await world.streamMessages()).toBe(before + 2);
    expect((await lastEvent('ferry.events.dc2.republish'))?.data).toMatchObject({ force: false });

    const unknown = await world.ferry('republish', 'centos@0.0');
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toBe('ferry: centos@0.0 is not in the catalog (see: ferry status centos)\n');
    const noVersion = await world.ferry('republish', 'centos');
    expect(noVersion.code).toBe(2);
  });

  it('reconcile publishes reconcile events on all or per site', async () => {
    expect((await world.ferry('reconcile')).code).toBe(0);
    expect((await lastEvent('ferry.events.all.reconcile'))?.data).toMatchObject({ kind: 'reconcile' });
    const all = await lastEvent('ferry.events.all.reconcile');
    expect((await world.ferry('reconcile', '--site', 'dc2')).code).toBe(0);
    const dc2 = await lastEvent('ferry.events.dc2.reconcile');
    expect(dc2?.data).toMatchObject({ schema: 'ferry/event/v1', kind: 'reconcile' });
    expect(dc2!.seq).toBeGreaterThan(all!.seq);
  });

  it('retire re-signs the manifest with retiredAt in catalog and sidecar, and announces it', async () => {
    const r = await world.ferry('retire', 'centos@7.9', '--json');
    expect(r.code, r.stderr).toBe(0);
    const manifest = parseManifest(JSON.parse(r.stdout));
    expect(Date.parse(manifest.retiredAt!)).not.toBeNaN();
    expect(manifest.sha256).toBe(sha256);
    verifyManifest(manifest, await loadTrustedKeys([join(world.dir, 'keys', 'release.pub')]));
    const sidecar = await world.s3client.send(
      new GetObjectCommand({
        Bucket: world.s3.bucket,
        Key: `${manifest.artifact}.${manifest.name}@${manifest.version}.manifest.json`,
      }),
    );
    expect(parseManifest(JSON.parse(await sidecar.Body!.transformToString()))).toEqual(manifest);
    expect((await lastEvent('ferry.events.all.retired'))?.data).toMatchObject({ kind: 'retired', manifest });

    const again = await world.ferry('retire', 'centos@7.9');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already retired');
    const rep = await world.ferry('republish', 'centos@7.9');
    expect(rep.code).toBe(1);
    expect(rep.stderr).toMatch(/retired/);
  });
});

describe('help and usage', () => {
  it('every command has --help with --config', async () => {
    for (const cmd of [
      'publish',
      'republish',
      'status',
      'sites',
      'retire',
      'reconcile',
      'suspend',
      'resume',
      'coordinator',
    ]) {
      const r = await world.ferry(cmd, '--help');
      expect(r.code, cmd).toBe(0);
      expect(r.stdout, cmd).toContain('--config <file>');
    }
    const top = await world.ferry('--help');
    expect(top.code).toBe(0);
    const unknown = await world.ferry('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/^ferry: unknown command 'frobnicate'/);
  });

  it('a missing config file is one clear line', async () => {
    const r = await world.ferry('status', '--config', join(world.dir, 'missing.yaml'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^ferry: config file .*missing\.yaml does not exist: give an existing file with --config\n$/,
    );
  });
});
