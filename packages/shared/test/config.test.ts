import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { ConfigError, loadAgentConfig, loadCoordinatorConfig } from '@ferry/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
const SECRET = 'hunter2-vcenter-Pa55';

function agentYaml(overrides: Record<string, string> = {}): string {
  const fields: Record<string, string> = {
    site: 'site: dc1-corp',
    zone: 'zone: corporate',
    nats: 'nats: { servers: [nats://127.0.0.1:4222] }',
    store: 'store: { type: s3, endpoint: http://127.0.0.1:9000, bucket: images, forcePathStyle: true }',
    vsphere:
      'vsphere: { url: https://127.0.0.1:8989, username: svc@vsphere.local, passwordFile: vc.pass, insecure: true, library: golden, datastore: datastore-12 }',
    cache: 'cache: { dir: cache, maxBytes: 2GiB }',
    trust: 'trust: { publicKeys: [keys/release.pub] }',
    ...overrides,
  };
  return Object.values(fields).filter(Boolean).join('\n');
}

async function write(name: string, text: string): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, text);
  return file;
}

let configFiles = 0;
async function loadError(text: string, env: Record<string, string> = {}): Promise<ConfigError> {
  configFiles += 1;
  const file = await write(`c${configFiles}.yaml`, text);
  const err = await loadAgentConfig(file, env).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return err as ConfigError;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-config-'));
  await writeFile(join(dir, 'vc.pass'), `${SECRET}\n`);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('agent config', () => {
  it('loads a valid config with defaults, converted units and resolved paths', async () => {
    const file = await write('ok.yaml', agentYaml());
    const cfg = await loadAgentConfig(file, {});
    expect(cfg.site).toBe('dc1-corp');
    expect(cfg.cache).toEqual({ dir: join(dir, 'cache'), maxBytes: 2 * 2 ** 30 });
    expect(cfg.trust.publicKeys).toEqual([join(dir, 'keys/release.pub')]);
    expect(cfg.concurrency).toEqual({ downloads: 2, imports: 1 });
    expect(cfg.reconcile.schedule).toBe('*/15 * * * *');
    expect(cfg.jobs.shutdownGraceMs).toBe(60_000);
    expect(cfg.vsphere.password.reveal()).toBe(SECRET);
    expect(cfg.vsphere.itemName).toBe('{name}-{version}');
  });

  it('deployCheck: off by default; on, with its morefs and timeout in ms', async () => {
    const off = await loadAgentConfig(await write('dc-off.yaml', agentYaml()), {});
    expect(off.deployCheck).toEqual({ enabled: false, timeoutMs: 10 * 60_000 });
    const yaml = `${agentYaml()}\ndeployCheck: { enabled: true, resourcePool: resgroup-8, folder: group-v3, network: network-7, timeout: 90s }`;
    const on = await loadAgentConfig(await write('dc-on.yaml', yaml), {});
    expect(on.deployCheck).toEqual({
      enabled: true,
      resourcePool: 'resgroup-8',
      folder: 'group-v3',
      network: 'network-7',
      timeoutMs: 90_000,
    });
  });

  it('deployCheck enabled without a resource pool says what to set', async () => {
    const err = await loadError(`${agentYaml()}\ndeployCheck: { enabled: true }`);
    expect(err.message).toMatch(/deployCheck\.resourcePool: deployCheck\.enabled needs deployCheck\.resourcePool/);
  });

  it('never prints the secret when the config is logged or serialised', async () => {
    const cfg = await loadAgentConfig(await write('ok2.yaml', agentYaml()), {});
    expect(JSON.stringify(cfg)).not.toContain(SECRET);
    expect(inspect(cfg, { depth: 10 })).not.toContain(SECRET);
    expect(String(cfg.vsphere.password)).toBe('[redacted]');
  });

  it('takes the password from the environment when there is no passwordFile', async () => {
    const yaml = agentYaml({
      vsphere: 'vsphere: { url: https://127.0.0.1:8989, username: u, library: golden, datastore: ds, insecure: true }',
    });
    const cfg = await loadAgentConfig(await write('env.yaml', yaml), { FERRY_VSPHERE_PASSWORD: 'from-env' });
    expect(cfg.vsphere.password.reveal()).toBe('from-env');
    // Named when vCenter rejects it: the operator looks at the variable, not at a file.
    expect(cfg.vsphere.password.source).toBe('FERRY_VSPHERE_PASSWORD');
    const fromFile = await loadAgentConfig(await write('ok3.yaml', agentYaml()), {});
    expect(fromFile.vsphere.password.source).toBe(`vsphere.passwordFile ${join(dir, 'vc.pass')}`);
  });

  it('names a CA file that is missing or a directory, by its key, at load time', async () => {
    const missing = await loadError(
      agentYaml({
        vsphere:
          'vsphere: { url: https://127.0.0.1:8989, username: u, passwordFile: vc.pass, caFile: nope-ca.pem, library: golden, datastore: ds }',
      }),
    );
    expect(missing.message).toMatch(/: vsphere\.caFile: .*nope-ca\.pem does not exist: fix the path$/);
    expect(missing.key).toBe('vsphere.caFile');
    const directory = await loadError(
      agentYaml({ nats: `nats: { servers: [nats://127.0.0.1:4222], tls: { caFile: ${dir} } }` }),
    );
    expect(directory.message).toMatch(/: nats\.tls\.caFile: .* is a directory, not a file: fix the path$/);
  });

  it('names a missing site', async () => {
    const err = await loadError(agentYaml({ site: '' }));
    expect(err.message).toMatch(/site: .*missing/);
    expect(err.key).toBe('site');
  });

  it('names an unknown key', async () => {
    const err = await loadError(`${agentYaml()}\nconcurency: { downloads: 2 }`);
    expect(err.message).toMatch(/concurency/);
  });

  it('names a malformed URL and shows the value', async () => {
    const err = await loadError(
      agentYaml({
        vsphere: 'vsphere: { url: "vcenter dc1", username: u, passwordFile: vc.pass, library: golden, datastore: ds }',
      }),
    );
    expect(err.message).toContain('vsphere.url');
    expect(err.message).toContain('"vcenter dc1"');
    expect(err.message).toContain('http');
  });

  it('names a secret file that does not exist, and which key pointed to it', async () => {
    const err = await loadError(
      agentYaml({
        vsphere:
          'vsphere: { url: https://vc.example, username: u, passwordFile: nope.pass, library: golden, datastore: ds }',
      }),
    );
    expect(err.message).toContain('vsphere.passwordFile');
    expect(err.message).toContain(join(dir, 'nope.pass'));
    expect(err.message).toContain('does not exist');
  });

  it('refuses inline secrets and says where to put them', async () => {
    const err = await loadError(
      agentYaml({
        vsphere:
          'vsphere: { url: https://vc.example, username: u, password: "s3cr3t-inline", library: golden, datastore: ds }',
      }),
    );
    expect(err.message).toContain('passwordFile or FERRY_VSPHERE_PASSWORD');
    expect(err.message).not.toContain('s3cr3t-inline');
  });

  it.each([
    [
      'vsphere passwd',
      {
        vsphere: `vsphere: { passwd: "${SECRET}", url: https://vc.example, username: u, passwordFile: vc.pass, library: golden, datastore: ds }`,
      },
    ],
    [
      'vsphere pasword',
      {
        vsphere: `vsphere: { pasword: "${SECRET}", url: https://vc.example, username: u, passwordFile: vc.pass, library: golden, datastore: ds }`,
      },
    ],
    ['nats.pass', { nats: `nats: { servers: [nats://127.0.0.1:4222], pass: "${SECRET}" }` }],
    ['store.secret_access_key', { store: `store: { type: s3, bucket: images, secret_access_key: "${SECRET}" }` }],
    [
      'nested under an unknown key',
      { cache: `cache: { dir: c, maxBytes: 2GiB, vcenter: { login: { pwd: "${SECRET}" } } }` },
    ],
    ['in a list under an unknown key', { trust: `trust: { publicKeys: [k.pub], extra: [{ apiToken: "${SECRET}" }] }` }],
    ['URL user info', { nats: `nats: { servers: ["nats://ferry:${SECRET}@127.0.0.1:4222"], bogus: 1 }` }],
  ])('a misspelled or unknown secret key never prints its value (%s)', async (_what, override) => {
    const err = await loadError(agentYaml(override));
    expect(err.message).toMatch(/Unrecognized key/);
    expect(err.message).not.toContain(SECRET);
    expect(inspect(err)).not.toContain(SECRET);
  });

  it('a YAML syntax error does not quote the source line (it may hold a secret)', async () => {
    const err = await loadError(`${agentYaml()}\nnats_password: ${SECRET}: x\n`);
    expect(err.message).toMatch(/not valid YAML: .*line \d+, column \d+/);
    expect(err.message).not.toContain(SECRET);
    expect(inspect(err)).not.toContain(SECRET);
  });

  it.each([
    ['reconcile: { schedule: "every 15 minutes" }', /reconcile\.schedule: expected a cron expression/],
    ['reconcile: { schedule: "*/15 * * *" }', /reconcile\.schedule: expected a cron expression/],
    ['reconcile: { timezone: Mars/Olympus }', /reconcile\.timezone: expected an IANA time zone/],
  ])('refuses %s at load (so check and the daemon fail)', async (line, message) => {
    const err = await loadError(`${agentYaml()}\n${line}`);
    expect(err.message).toMatch(message);
  });

  it('reports every missing secret file at once', async () => {
    const err = await loadError(
      agentYaml({
        nats: 'nats: { servers: [nats://127.0.0.1:4222], user: u, passwordFile: nats.missing }',
        store: 'store: { type: s3, bucket: images, accessKeyIdFile: id.missing, secretAccessKeyFile: secret.missing }',
        vsphere:
          'vsphere: { url: https://vc.example, username: u, passwordFile: vc.missing, library: golden, datastore: ds }',
      }),
    );
    for (const key of [
      'nats.passwordFile',
      'store.accessKeyIdFile',
      'store.secretAccessKeyFile',
      'vsphere.passwordFile',
    ]) {
      expect(err.message).toContain(`${key}: secret file`);
    }
    expect(err.message.match(/does not exist/g)).toHaveLength(4);
  });

  it('rejects a bad duration and a bad size with the expected form', async () => {
    const err = await loadError(`${agentYaml({ cache: 'cache: { dir: c, maxBytes: lots }' })}`);
    expect(err.message).toMatch(/cache\.maxBytes: expected a size/);
    const err2 = await loadError(`${agentYaml()}\nreconcile: { jitter: soon }`);
    expect(err2.message).toMatch(/reconcile\.jitter: expected a duration/);
  });

  it('says when the file itself is missing or not YAML', async () => {
    const err = await loadAgentConfig(join(dir, 'absent.yaml'), {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/absent\.yaml does not exist: give an existing file with --config$/);
    const isDir = await loadAgentConfig(dir, {}).catch((e: unknown) => e);
    expect((isDir as Error).message).toMatch(/ is a directory, not a file: give an existing file with --config$/);
    const bad = await loadError('site: [unclosed');
    expect(bad.message).toMatch(/not valid YAML/);
  });
});

describe('coordinator config', () => {
  it('loads with defaults and resolves the signing key path', async () => {
    const file = await write(
      'coord.yaml',
      'nats: { servers: [nats://127.0.0.1:4222] }\nstore: { type: file, root: store }\nsigning: { privateKeyFile: keys/release.key }\n',
    );
    const cfg = await loadCoordinatorConfig(file, {});
    expect(cfg.signing?.privateKeyFile).toBe(join(dir, 'keys/release.key'));
    expect(cfg.store).toEqual({ type: 'file', root: join(dir, 'store') });
    expect(cfg.http.listen).toBe('127.0.0.1:9470');
    expect(cfg.discovery.targets).toEqual(['*']);
    expect(cfg.rollout).toEqual({ gate: 'none', waves: [] });
    expect(cfg.http.tokenName).toBe('api');
  });

  const coordinator = (rollout: string) =>
    `nats: { servers: [nats://127.0.0.1:4222] }\nstore: { type: file, root: store }\nsigning: { privateKeyFile: k.key }\nrollout: ${rollout}\n`;

  it('reads a rollout policy: gate, ordered waves, soak as a duration', async () => {
    const file = await write(
      'rollout.yaml',
      coordinator(
        '{ gate: approval, waves: [{ name: canary, targets: ["label:canary=true"], soak: 30m }, { name: all, targets: ["*"] }] }',
      ),
    );
    expect((await loadCoordinatorConfig(file, {})).rollout).toEqual({
      gate: 'approval',
      waves: [
        { name: 'canary', targets: ['label:canary=true'], soakMs: 30 * 60_000 },
        { name: 'all', targets: ['*'], soakMs: 0 },
      ],
    });
  });

  it.each([
    ['{ gate: maybe }', /rollout\.gate/],
    ['{ waves: [{ name: canary, targets: ["bad selector"] }] }', /rollout\.waves\.0\.targets\.0/],
    ['{ waves: [{ name: a, targets: ["*"], soak: soon }] }', /expected a duration/],
    ['{ waves: [{ name: a, targets: ["*"] }, { name: a, targets: ["dc1"] }] }', /wave names must be unique/],
  ])('names what is wrong in rollout %s', async (rollout, message) => {
    const file = await write(`r${Math.random().toString(36).slice(2)}.yaml`, coordinator(rollout));
    const err = await loadCoordinatorConfig(file, {}).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(message);
  });

  it('refuses a discovery schedule that is not a cron expression at load', async () => {
    const file = await write(
      'coord-cron.yaml',
      'nats: { servers: [nats://127.0.0.1:4222] }\nstore: { type: file, root: store }\nsigning: { privateKeyFile: k.key }\ndiscovery: { schedule: hourly }\n',
    );
    await expect(loadCoordinatorConfig(file, {})).rejects.toThrow(/discovery\.schedule: expected a cron expression/);
  });
});
