import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ContentLibraryClient } from '@ferry/site-agent';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FERRY_AGENT_BIN, runBin, startDaemon } from '../support/processes.js';
import { SiteWorld } from '../support/site-world.js';
import { freePort } from '../world/ports.js';

let world: SiteWorld;
const SITE = 'dc1-corp';

beforeAll(async () => {
  world = await SiteWorld.start([{ site: SITE, zone: 'corporate' }]);
});
afterAll(async () => {
  await world?.stop();
});

function library(): ContentLibraryClient {
  const vc = world.vcsims[SITE]!;
  return new ContentLibraryClient({
    url: vc.url,
    username: vc.username,
    password: vc.password,
    ca: vc.caFile as never,
    insecure: true,
    keepAliveMs: 0,
  });
}

describe('the ferry-agent process', () => {
  it('kill -9 in the middle of an import, then a restart: ready, one item, no open update session', async () => {
    const config = world.configs.get(SITE)!;
    const ova = await world.buildOva({ name: 'crashy', diskSize: 400 * 2 ** 20 });
    let agent = startDaemon(FERRY_AGENT_BIN, ['--config', config]);
    const m = await world.publish(ova, { name: 'crashy', version: '1' });
    await world.waitForStatus(SITE, m.name, m.version, (r) => r.state === 'importing' && r.bytesDone > 0, 60_000);
    agent.child.kill('SIGKILL');
    expect(await agent.exited).toBe('SIGKILL');

    agent = startDaemon(FERRY_AGENT_BIN, ['--config', config]);
    try {
      const r = await world.waitForStatus(SITE, m.name, m.version, (s) => s.state === 'ready', 90_000);
      const lib = library();
      const libId = (await lib.findLibraryByName('golden-images'))!;
      const items = (await lib.listItems(libId)).filter((i) => i.name === 'crashy-1');
      expect(items).toHaveLength(1);
      expect(items[0]!.id).toBe(r.libraryItemId);
      const files = await lib.listFiles(items[0]!.id);
      expect(files.map((f) => f.size).sort()).toEqual(ova.files.map((f) => f.size).sort());
      expect(await lib.listUpdateSessions({ activeOnly: true })).toEqual([]);
    } finally {
      agent.child.kill('SIGTERM');
      expect(await agent.exited).toBe(0);
    }
  });

  it('`check` reports a wrong vCenter password and an unreachable NATS, exit code 1', async () => {
    const dir = join(world.dir, 'bad-check');
    const closedPort = await freePort();
    const config = await world.writeConfig(SITE, { dir, natsUrls: [`nats://127.0.0.1:${closedPort}`] });
    await writeFile(join(dir, 'vcenter.pass'), 'not-the-password');
    const res = await runBin(FERRY_AGENT_BIN, ['check', '--config', config]);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(/^OK {4}config/m);
    expect(res.stdout).toMatch(
      new RegExp(`^FAIL {2}nats .*cannot connect to NATS at nats://127.0.0.1:${closedPort}`, 'm'),
    );
    expect(res.stdout).toMatch(/^FAIL {2}vcenter .*check vsphere.username and vsphere.passwordFile/m);
    expect(res.stdout).toMatch(/^OK {4}store/m);
    expect(res.stdout).not.toContain('not-the-password');
    await world.writeConfig(SITE);
  });

  it('`check` fails for a bucket that does not exist and for a private key in trust.publicKeys', async () => {
    const dir = join(world.dir, 'bad-store');
    const config = await world.writeConfig(SITE, {
      dir,
      s3: { ...world.s3, bucket: 'no-such-bucket' },
      publicKeyFile: world.key.privateKeyFile,
    });
    const res = await runBin(FERRY_AGENT_BIN, ['check', '--config', config]);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(
      /^FAIL {2}store .*bucket no-such-bucket does not exist: create it or fix store\.bucket/m,
    );
    expect(res.stdout).toMatch(/^FAIL {2}trust .*is a PRIVATE key/m);
    expect(res.stdout).not.toContain('PRIVATE KEY-----');
    await world.writeConfig(SITE);
  });

  it('an invalid reconcile.schedule fails `check` and the daemon at start', async () => {
    const dir = join(world.dir, 'bad-cron');
    const config = await world.writeConfig(SITE, { dir, extra: { reconcile: { schedule: 'every 15 minutes' } } });
    const check = await runBin(FERRY_AGENT_BIN, ['check', '--config', config]);
    expect(check.code).not.toBe(0);
    expect(check.stdout + check.stderr).toMatch(/reconcile\.schedule: expected a cron expression/);
    const daemon = await runBin(FERRY_AGENT_BIN, ['--config', config], {}, 30_000);
    expect(daemon.code).not.toBe(0);
    expect(daemon.stdout + daemon.stderr).toMatch(/reconcile\.schedule: expected a cron expression/);
    await world.writeConfig(SITE);
  });

  it('`check` passes on a good config', async () => {
    const res = await runBin(FERRY_AGENT_BIN, ['check', '--config', world.configs.get(SITE)!]);
    expect(res.stdout).not.toMatch(/FAIL/);
    expect(res.code).toBe(0);
  });
});
