import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { loadAgentConfig } from '@ferry/shared';
import { ContentLibraryClient, runChecks } from '@ferry/site-agent/internal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { duplicateKeys } from '../support/duplicate-keys.js';
import { FERRY_AGENT_BIN, FERRY_BIN, runBin, startDaemon } from '../support/processes.js';
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

  it('logs JSON lines to stderr only, each key once per line; "agent ready" once, when the checks pass', async () => {
    const agent = startDaemon(FERRY_AGENT_BIN, ['--config', world.configs.get(SITE)!]);
    let stdout = '';
    let stderr = '';
    agent.child.stdout!.on('data', (d) => (stdout += d));
    agent.child.stderr!.on('data', (d) => (stderr += d));
    try {
      const m = await world.publish(await world.buildOva({ name: 'logged' }), { name: 'logged', version: '1' });
      await world.waitForStatus(SITE, m.name, m.version, (r) => r.state === 'ready', 60_000);
    } finally {
      agent.child.kill('SIGTERM');
      expect(await agent.exited).toBe(0);
    }
    expect(stdout).toBe('');
    const lines = stderr.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThan(5);
    for (const line of lines) expect(duplicateKeys(line), line).toEqual([]);
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records.every((r) => r.logger === 'ferry-agent' && r.site === SITE)).toBe(true);
    expect(records.some((r) => r.image === 'logged@1')).toBe(true);
    expect(records.filter((r) => r.msg === 'agent ready')).toHaveLength(1);
    expect(records.some((r) => r.msg === 'agent not ready')).toBe(false);
  });

  it('a closed stdout pipe (`| head -1`) ends quietly, no EPIPE stack trace', async () => {
    for (const bin of [FERRY_AGENT_BIN, FERRY_BIN]) {
      const child = spawn(process.execPath, [bin, '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.destroy(); // the reader has gone before the first write
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      expect(stderr, bin).toBe('');
      expect(code, bin).toBe(0);
    }
  });

  it('`ferry-agent bogus` is an unknown command, `--help` explains the daemon and FERRY_AGENT_CONFIG', async () => {
    const bogus = await runBin(FERRY_AGENT_BIN, ['bogus']);
    expect(bogus.code).toBe(2);
    expect(bogus.stderr).toMatch(/^ferry-agent: unknown command 'bogus'/);
    const help = await runBin(FERRY_AGENT_BIN, ['--help']);
    expect(help.stdout).toContain('With no command, ferry-agent runs the agent daemon');
    expect(help.stdout).toContain('$FERRY_AGENT_CONFIG');
    const noManifest = await runBin(FERRY_AGENT_BIN, [
      'import',
      '--config',
      world.configs.get(SITE)!,
      '--manifest',
      join(world.dir, 'nope.json'),
    ]);
    expect(noManifest.code).toBe(1);
    expect(noManifest.stderr).toMatch(
      /^ferry-agent: --manifest .*nope\.json does not exist: give the path of a signed/,
    );
    // Logs to stderr: `reconcile --dry-run --json` prints exactly one JSON document on stdout.
    const plan = await runBin(FERRY_AGENT_BIN, [
      'reconcile',
      '--dry-run',
      '--json',
      '--config',
      world.configs.get(SITE)!,
    ]);
    expect(plan.code, plan.stderr).toBe(0);
    expect(Array.isArray(JSON.parse(plan.stdout))).toBe(true);
    const missing = await runBin(FERRY_AGENT_BIN, ['check', '--config', world.dir]);
    expect(missing.stdout).toMatch(/^FAIL {2}config .* is a directory, not a file/m);
  });

  it('`check` gives up on a probe that never answers, after its timeout', async () => {
    // A "vCenter" that accepts connections and never says a word.
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => void sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const config = await loadAgentConfig(world.configs.get(SITE)!);
      const port = (silent.address() as AddressInfo).port;
      const results = await runChecks(
        { ...config, vsphere: { ...config.vsphere, url: `https://127.0.0.1:${port}` } },
        1_000,
      );
      const vcenter = results.find((r) => r.name === 'vcenter')!;
      expect(vcenter).toEqual({ name: 'vcenter', ok: false, message: 'vcenter check: no answer within 1000 ms' });
      expect(results.find((r) => r.name === 'store')?.ok).toBe(true);
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});
