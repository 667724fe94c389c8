import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CoordinatorDaemon, startCoordinator } from '@ferry/coordinator';
import { createLogger, loadCoordinatorConfig } from '@ferry/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { ferry, writeCoordinatorConfig } from '../support/coordinator-config.js';
import { duplicateKeys } from '../support/duplicate-keys.js';
import { FERRY_AGENT_BIN, FERRY_BIN, runBin } from '../support/processes.js';
import { SiteWorld } from '../support/site-world.js';

const SECRETS = {
  nats: 'nats-S3cret-Qz81x',
  vcenter: 'vc-S3cret-Lm42p',
  wrongVcenter: 'wrong-S3cret-Xx11',
  wrongNats: 'wrongnats-S3cret-Yy22',
  apiToken: 'api-S3cret-Tk99w',
  webhook: 'hook-S3cret-Wb07e',
  misspelled: 'typo-S3cret-Mk55q',
};

let world: SiteWorld;
let coordinator: CoordinatorDaemon;
const collected: Array<{ source: string; text: string }> = [];
const keep = (source: string, text: string) => collected.push({ source, text });

beforeAll(async () => {
  world = await SiteWorld.start(
    [
      { site: 'dc1', vcsim: { password: SECRETS.vcenter } },
      { site: 'dc2', vcsim: { password: SECRETS.vcenter } },
    ],
    { natsAuth: { user: 'ferry', password: SECRETS.nats } },
  );
});
afterAll(async () => {
  await coordinator?.stop();
  await world?.stop();
});

describe('secrets never reach logs, errors, status, metrics or CLI output', () => {
  it('a full run with known secret values leaves none of them anywhere', async () => {
    await writeFile(join(world.dir, 'api.token'), SECRETS.apiToken);
    await writeFile(join(world.dir, 'hook.secret'), SECRETS.webhook);
    const coordFile = await writeCoordinatorConfig(world, {
      http: { listen: '127.0.0.1:0', tokenFile: 'api.token', webhookSecretFile: 'hook.secret' },
      log: { level: 'debug' },
    });
    const coordLogs: string[] = [];
    coordinator = await startCoordinator(await loadCoordinatorConfig(coordFile), {
      logger: createLogger({ level: 'debug', destination: { write: (m: string) => void coordLogs.push(m) } }),
    });
    const agent = await world.startAgent('dc1', { captureLogs: true });
    // dc2's agent has a wrong vCenter password: its import fails with an error in status.
    await writeFile(join(world.dir, 'sites', 'dc2', 'vcenter.pass'), SECRETS.wrongVcenter);
    await world.startAgent('dc2', { captureLogs: true });

    const ova = await world.buildOva({ name: 'classified' });
    const pub = await ferry(['publish', ova.path, '--name', 'classified', '--version', '1', '--config', coordFile]);
    expect(pub.code, pub.err).toBe(0);
    keep('ferry publish', pub.out + pub.err);
    await world.waitForStatus('dc1', 'classified', '1');
    const failed = await world.waitForStatus('dc2', 'classified', '1', (r) => r.state === 'failed');
    expect(failed.error?.code).toBe('VSPHERE_AUTH');
    // Its heartbeat says it is not ready, and why: `ferry sites` never calls it "ok".
    await expect
      .poll(async () => (await world.topology.sites.get('dc2'))?.json<{ ready?: boolean }>().ready, { timeout: 15_000 })
      .toBe(false);
    const sites = await ferry(['sites', '--config', coordFile]);
    expect(sites.out).toMatch(/^dc2\s.*NOT READY$/m);
    expect(sites.out).toMatch(/^dc2: not ready: vcenter: .*rejected user/m);
    keep('ferry sites', sites.out + sites.err);

    for (const args of [['status'], ['status', '--json'], ['sites', '--json'], ['republish', 'classified@1']]) {
      const r = await ferry([...args, '--config', coordFile]);
      keep(`ferry ${args.join(' ')}`, r.out + r.err);
    }
    keep('agent /metrics', await (await fetch(`${agent.httpUrl}/metrics`)).text());
    keep('agent /readyz', await (await fetch(`${agent.httpUrl}/readyz`)).text());
    keep(
      'coordinator /api/status',
      await (
        await fetch(`${coordinator.url}/api/status`, { headers: { authorization: `Bearer ${SECRETS.apiToken}` } })
      ).text(),
    );
    // A webhook with a wrong secret: the answer must not echo it.
    const hook = await fetch(`${coordinator.url}/hooks/artifactory`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-jfrog-event-auth': `${SECRETS.webhook}x` },
      body: '{}',
    });
    expect(hook.status).toBe(401);
    keep('webhook answer', await hook.text());

    // `ferry-agent check` with a wrong vCenter password and a wrong NATS password.
    const cfg = world.configs.get('dc2')!;
    await writeFile(join(world.dir, 'sites', 'dc2', 'nats.pass'), SECRETS.wrongNats);
    const check = await runBin(FERRY_AGENT_BIN, ['check', '--config', cfg]);
    expect(check.code).toBe(1);
    keep('ferry-agent check', check.stdout + check.stderr);

    for (const bucket of [world.topology.status, world.topology.sites, world.topology.catalog]) {
      for await (const key of await bucket.keys()) {
        const e = await bucket.get(key);
        if (e) keep(`kv ${key}`, e.string());
      }
    }
    for (const [site, lines] of world.logs) keep(`agent ${site} logs`, lines.map((l) => JSON.stringify(l)).join('\n'));
    keep('coordinator logs', coordLogs.join(''));
    // Every coordinator log line names each field once (JSON.parse would hide a repeated key).
    for (const line of coordLogs) expect(duplicateKeys(line.trim()), line).toEqual([]);

    expect(collected.length).toBeGreaterThan(10);
    expect(world.logs.get('dc2')!.some((l) => /import failed/.test(String(l.msg)))).toBe(true);
    for (const { source, text } of collected) {
      for (const [name, secret] of Object.entries(SECRETS)) {
        expect(text.includes(secret), `${name} secret found in ${source}`).toBe(false);
      }
    }
  });

  it('a misspelled or unknown secret key is refused without printing its value, at any depth', async () => {
    type Obj = Record<string, Record<string, unknown>>;
    const secret = SECRETS.misspelled;
    const agentBase = parse(await readFile(world.configs.get('dc1')!, 'utf8')) as Obj;
    const coordBase = parse(await readFile(await writeCoordinatorConfig(world), 'utf8')) as Obj;
    // [section, misspelled key, value]: the value holds the secret, at some depth.
    const agentVariants: Array<[string, string, unknown]> = [
      ['vsphere', 'passwd', secret],
      ['vsphere', 'pasword', secret],
      ['nats', 'pass', secret],
      ['store', 'secretKey', secret],
      ['vsphere', 'login', { pwd: secret }],
    ];
    const coordVariants: Array<[string, string, unknown]> = [
      ['nats', 'pass', secret],
      ['http', 'tokn', secret],
      ['signing', 'privateKey', secret],
    ];
    const withKey = (base: Obj, [section, key, value]: [string, string, unknown]): Obj => {
      const c = structuredClone(base);
      c[section] = { ...c[section], [key]: value };
      return c;
    };
    const outputs: Array<{ source: string; text: string }> = [];
    for (const variant of agentVariants) {
      const what = `${variant[0]}.${variant[1]}`;
      const c = withKey(agentBase, variant);
      const file = join(world.dir, 'sites', 'dc1', `misspelled-${outputs.length}.yaml`);
      await writeFile(file, stringify(c));
      for (const args of [
        ['check', '--config', file],
        ['--config', file],
      ]) {
        const r = await runBin(FERRY_AGENT_BIN, args);
        expect(r.code, `ferry-agent ${args[0]} with ${what}`).not.toBe(0);
        expect(r.stdout + r.stderr).toMatch(/Unrecognized key/);
        outputs.push({ source: `ferry-agent ${args.join(' ')} (${what})`, text: r.stdout + r.stderr });
      }
    }
    for (const variant of coordVariants) {
      const what = `${variant[0]}.${variant[1]}`;
      const c = withKey(coordBase, variant);
      const file = join(world.dir, `coord-misspelled-${outputs.length}.yaml`);
      await writeFile(file, stringify(c));
      for (const args of [
        ['status', '--config', file],
        ['coordinator', '--config', file],
      ]) {
        const r = await runBin(FERRY_BIN, args);
        expect(r.code, `ferry ${args[0]} with ${what}`).not.toBe(0);
        expect(r.stdout + r.stderr).toMatch(/Unrecognized key/);
        outputs.push({ source: `ferry ${args.join(' ')} (${what})`, text: r.stdout + r.stderr });
      }
    }
    for (const { source, text } of outputs) expect(text.includes(secret), `secret found in ${source}`).toBe(false);
  });
});
