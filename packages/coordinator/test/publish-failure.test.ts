/**
 * A failed `ferry publish` never reaches a site (real nats-server, real s3rver): it fails before
 * uploading when the signing key is missing; it removes what it wrote when a step after the upload
 * fails; Ctrl-C on a real `ferry` process aborts the multipart upload and removes everything; and
 * discovery leaves an OVA with a publish marker alone.
 */
import { spawn } from 'node:child_process';
import { mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { ListMultipartUploadsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { silentLogger } from '@ferry/shared';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FERRY_BIN } from '../../../test/support/processes.js';
import { buildOva } from '../../../test/world/ova.js';
import {
  openContextFromFile,
  publishFile,
  type RolloutHook,
  rolloutDeps,
  rolloutHook,
  StoreDiscovery,
} from '../src/internal.js';
import { startWorld, type World } from './world.js';

let world: World;

beforeAll(async () => {
  world = await startWorld();
});
afterAll(async () => {
  await world?.stop();
});

async function multipartUploads(): Promise<string[]> {
  const out = await world.s3client.send(new ListMultipartUploadsCommand({ Bucket: world.s3.bucket }));
  return (out.Uploads ?? []).map((u) => u.Key ?? '');
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const nothingLeft = async () => {
  expect(await world.listBucket()).toEqual([]);
  expect(await multipartUploads()).toEqual([]);
  expect(await world.catalogKeys()).toEqual([]);
};

describe('a failed ferry publish leaves nothing a site or discovery could pick up', () => {
  it('a missing signing key is refused before a byte is uploaded', async () => {
    const dir = join(world.dir, 'nokey');
    await mkdir(dir, { recursive: true });
    const ova = await buildOva(dir, { name: 'nokey', diskSize: 20 * 2 ** 20, seed: 'nk' });
    const key = join(world.dir, 'keys', 'release.key');
    await rename(key, `${key}.away`);
    try {
      const r = await world.ferry('publish', ova.path, '--name', 'nokey', '--version', '1');
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/^ferry: cannot read signing key .*release\.key/);
    } finally {
      await rename(`${key}.away`, key);
    }
    await nothingLeft();
    expect(await world.streamMessages()).toBe(0);
  });

  it('a failure after the upload (the event stream is gone) removes object, sidecar and catalog entry', async () => {
    const dir = join(world.dir, 'nostream');
    await mkdir(dir, { recursive: true });
    const ova = await buildOva(dir, { name: 'nostream', diskSize: 20 * 2 ** 20, seed: 'ns' });
    const ctx = await openContextFromFile(world.configFile, world.env);
    try {
      // The context checked the stream when it opened; it disappears while the OVA uploads.
      await (await jetstreamManager(world.nc)).streams.delete('FERRY_EVENTS');
      await expect(publishFile(ctx, { file: ova.path, name: 'nostream', version: '1' })).rejects.toThrow();
    } finally {
      await ctx.close();
    }
    await nothingLeft();
  });

  it('Ctrl-C right after the rollout state was written removes it with the rest', async () => {
    const dir = join(world.dir, 'rollout');
    await mkdir(dir, { recursive: true });
    const ova = await buildOva(dir, { name: 'held', diskSize: 20 * 2 ** 20, seed: 'ro' });
    const ctx = await openContextFromFile(world.configFile, world.env);
    try {
      const deps = rolloutDeps(ctx);
      const hook = rolloutHook(deps, { gate: 'approval', waves: [{ name: 'all', targets: ['*'], soakMs: 0 }] })!;
      const stop = new AbortController();
      // The operator's Ctrl-C arrives just after the rollout record is written, before the catalog entry.
      const rollout: RolloutHook = {
        begin: async (m) => {
          const begun = await hook.begin(m);
          expect(await deps.rollouts.get(m.name, m.version)).toMatchObject({ gate: 'approval' });
          stop.abort();
          return begun;
        },
      };
      await expect(
        publishFile({ ...ctx, rollout }, { file: ova.path, name: 'held.os', version: '1.0', signal: stop.signal }),
      ).rejects.toThrow(/^interrupted/);
      expect(await deps.rollouts.get('held.os', '1.0')).toBeUndefined();
    } finally {
      await ctx.close();
    }
    await nothingLeft();
  });

  it('Ctrl-C on a real ferry publish aborts the multipart upload and removes everything', async () => {
    const dir = join(world.dir, 'sigint');
    await mkdir(dir, { recursive: true });
    const ova = await buildOva(dir, { name: 'sigint', diskSize: 160 * 2 ** 20, seed: 'si' });
    const child = spawn(
      process.execPath,
      [FERRY_BIN, 'publish', ova.path, '--name', 'sigint', '--version', '1', '--config', world.configFile],
      {
        env: { ...process.env, ...world.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.stdout.resume();
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

    try {
      // Mid-upload: the marker is there and S3 holds an unfinished multipart upload of the OVA.
      await waitFor('a multipart upload in flight', async () =>
        (await multipartUploads()).includes('sigint/1/sigint.ova'),
      );
      expect(await world.listBucket()).toEqual(['sigint/1/sigint.ova.ferry-publishing']);
      child.kill('SIGINT');
      expect(await exited).toBe(1);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    expect(stderr).toMatch(/^ferry: interrupted: the upload was aborted and nothing was published/m);
    await nothingLeft();
  });

  it('discovery leaves an OVA with a publish marker alone, and registers it once the marker is gone', async () => {
    const dir = join(world.dir, 'marked');
    await mkdir(dir, { recursive: true });
    const ova = await buildOva(dir, { name: 'marked', seed: 'mk' });
    const put = (Key: string, Body: Buffer | string) =>
      world.s3client.send(new PutObjectCommand({ Bucket: world.s3.bucket, Key, Body }));
    const { readFile } = await import('node:fs/promises');
    await put('marked/2/marked.ova', await readFile(ova.path));
    // What a `ferry publish` killed with -9 after its upload leaves behind.
    await put('marked/2/marked.ova.ferry-publishing', '{}');

    const ctx = await openContextFromFile(world.configFile, world.env);
    try {
      const discovery = new StoreDiscovery(ctx, { prefix: '', targets: ['*'], settleMs: 0, logger: silentLogger() });
      const first = await discovery.runOnce();
      expect(first.registered).toBe(0);
      expect(first.skipped).toContainEqual({
        path: 'marked/2/marked.ova',
        reason: expect.stringMatching(/^a ferry publish of marked\/2\/marked\.ova is running or did not finish/),
      });
      expect(await world.catalogKeys()).toEqual([]);

      await ctx.store.delete('marked/2/marked.ova.ferry-publishing');
      const second = await discovery.runOnce();
      expect(second.registrations).toEqual([
        { path: 'marked/2/marked.ova', image: 'marked@2', reason: expect.stringMatching(/no sidecar/) },
      ]);
      expect(await world.catalogKeys()).toEqual(['marked.2']);
    } finally {
      await ctx.close();
    }
  });
});
