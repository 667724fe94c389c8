/**
 * The defaults of both configs, as ONE table: the table is the spec, the schema must agree. An
 * empty-as-possible agent and coordinator config are loaded from YAML files, and every resolved
 * key they did not set must be a row here (a new default without a row fails, as does a row whose
 * key is not defaulted). The code that needs a default without a config must agree with it too.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AgentConfig,
  type CoordinatorConfig,
  createLogger,
  DEFAULT_JETSTREAM_REPLICAS,
  DEFAULT_LOG_LEVEL,
  DEFAULT_VSPHERE_KEEP_ALIVE_MS,
  loadAgentConfig,
  loadCoordinatorConfig,
  Secret,
} from '@ferry/shared';
import { ContentLibraryClient } from '@ferry/site-agent/internal';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';

type Kind = 'agent' | 'coordinator';

/** [config, resolved key, default]. Durations are in ms, sizes in bytes (the compiled stage). */
const DEFAULTS: ReadonlyArray<readonly [Kind, string, unknown]> = [
  ['agent', 'agent', 'dc1-corp'],
  ['agent', 'labels', {}],
  ['agent', 'bandwidth', {}],
  ['agent', 'store.region', 'us-east-1'],
  ['agent', 'store.forcePathStyle', false],
  ['agent', 'store.insecure', false],
  ['agent', 'vsphere.insecure', false],
  ['agent', 'vsphere.itemName', '{name}-{version}'],
  ['agent', 'vsphere.keepAliveMs', 5 * 60_000],
  ['agent', 'cache.maxBytes', 50 * 2 ** 30],
  ['agent', 'concurrency.downloads', 2],
  ['agent', 'concurrency.imports', 1],
  ['agent', 'reconcile.schedule', '*/15 * * * *'],
  ['agent', 'reconcile.timezone', 'UTC'],
  ['agent', 'reconcile.jitterMs', 60_000],
  ['agent', 'reconcile.prune', true],
  ['agent', 'reconcile.enabled', true],
  ['agent', 'retention.keepVersions', 3],
  ['agent', 'http.listen', '127.0.0.1:9464'],
  ['agent', 'jobs.maxAttempts', 8],
  ['agent', 'jobs.retryBaseMs', 10_000],
  ['agent', 'jobs.retryMaxMs', 15 * 60_000],
  ['agent', 'jobs.shutdownGraceMs', 60_000],
  ['agent', 'deployCheck.enabled', false],
  ['agent', 'deployCheck.timeoutMs', 10 * 60_000],
  ['agent', 'log.level', 'info'],
  ['coordinator', 'nats.tls.insecure', false],
  ['coordinator', 'store.insecure', false],
  ['coordinator', 'jetstream.replicas', 1],
  ['coordinator', 'discovery.schedule', '*/5 * * * *'],
  ['coordinator', 'discovery.prefix', ''],
  ['coordinator', 'discovery.enabled', true],
  ['coordinator', 'discovery.targets', ['*']],
  ['coordinator', 'http.listen', '127.0.0.1:9470'],
  ['coordinator', 'http.tokenName', 'api'],
  ['coordinator', 'rollout.gate', 'none'],
  ['coordinator', 'rollout.waves', []],
  ['coordinator', 'log.level', 'info'],
];

/** The smallest configs that load: only required keys (and one empty `tls` section). */
const MINIMAL: Record<Kind, { yaml: string; given: string[] }> = {
  agent: {
    yaml: [
      'site: dc1-corp',
      'zone: corporate',
      'nats: { servers: [nats://127.0.0.1:4222] }',
      'store: { type: s3, bucket: images }',
      'vsphere: { url: https://127.0.0.1:8989, username: u, library: golden, datastore: ds }',
      'cache: { dir: cache }',
      'trust: { publicKeys: [release.pub] }',
    ].join('\n'),
    // Resolved keys that come from the file (or the env's password), not from a default.
    given: [
      'file',
      'site',
      'zone',
      'nats.servers',
      'store.type',
      'store.bucket',
      'vsphere.url',
      'vsphere.username',
      'vsphere.password',
      'vsphere.library',
      'vsphere.datastore',
      'cache.dir',
      'trust.publicKeys',
      // The single-target form normalized to one target (its defaults are the rows above).
      'targets',
    ],
  },
  coordinator: {
    yaml: [
      'nats: { servers: [nats://127.0.0.1:4222], tls: {} }',
      'store: { type: artifactory, url: https://artifactory.example, repo: images }',
      'signing: { privateKeyFile: release.key }',
    ].join('\n'),
    given: ['file', 'nats.servers', 'store.type', 'store.url', 'store.repo', 'signing.privateKeyFile'],
  },
};

/** Leaf keys (dotted) of a resolved config with their values; absent optional keys are left out. */
function leaves(value: unknown, prefix = ''): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const isBranch =
    value !== null &&
    typeof value === 'object' &&
    !Array.isArray(value) &&
    !(value instanceof Secret) &&
    Object.keys(value).length > 0;
  if (!isBranch) {
    if (value !== undefined) out.set(prefix, value);
    return out;
  }
  for (const [k, v] of Object.entries(value)) {
    for (const [key, leaf] of leaves(v, prefix ? `${prefix}.${k}` : k)) out.set(key, leaf);
  }
  return out;
}

let dir: string;
const loaded = {} as { agent: AgentConfig; coordinator: CoordinatorConfig };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-defaults-'));
  for (const kind of ['agent', 'coordinator'] as const) await writeFile(join(dir, `${kind}.yaml`), MINIMAL[kind].yaml);
  const env = { FERRY_VSPHERE_PASSWORD: 'from-env' };
  loaded.agent = await loadAgentConfig(join(dir, 'agent.yaml'), env);
  loaded.coordinator = await loadCoordinatorConfig(join(dir, 'coordinator.yaml'), env);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('config defaults (the table is the spec)', () => {
  it.each(DEFAULTS)('%s %s defaults to %j', (kind, key, expected) => {
    expect(leaves(loaded[kind]).get(key)).toEqual(expected);
  });

  it.each(['agent', 'coordinator'] as const)('%s: every key not set in the file is in the table', (kind) => {
    const fromDefaults = [...leaves(loaded[kind]).keys()].filter((k) => !MINIMAL[kind].given.includes(k));
    const inTable = DEFAULTS.filter(([k]) => k === kind).map(([, key]) => key);
    expect(fromDefaults.sort()).toEqual([...inTable].sort());
  });

  it('the single-target form is one target with the top-level site and vsphere', () => {
    const { site, labels, vsphere, deployCheck } = loaded.agent;
    expect(loaded.agent.targets).toEqual([{ site, labels, vsphere, transfer: 'push', bandwidth: {}, deployCheck }]);
  });

  it('a section that sets one key keeps the defaults of the others', async () => {
    const file = join(dir, 'partial.yaml');
    await writeFile(file, `${MINIMAL.agent.yaml}\njobs: { maxAttempts: 2 }\nreconcile: { prune: false }\n`);
    const cfg = await loadAgentConfig(file, { FERRY_VSPHERE_PASSWORD: 'p' });
    expect(cfg.jobs).toEqual({ ...loaded.agent.jobs, maxAttempts: 2 });
    expect(cfg.reconcile).toEqual({ ...loaded.agent.reconcile, prune: false });
  });

  it('code made without a config uses the same defaults', () => {
    const row = (kind: Kind, key: string) => DEFAULTS.find(([k, name]) => k === kind && name === key)?.[2];
    expect(DEFAULT_VSPHERE_KEEP_ALIVE_MS).toBe(row('agent', 'vsphere.keepAliveMs'));
    expect(DEFAULT_JETSTREAM_REPLICAS).toBe(row('coordinator', 'jetstream.replicas'));
    expect(DEFAULT_LOG_LEVEL).toBe(row('agent', 'log.level'));
    // The client used to keep alive every 60 s when not told (the config said 5 min): now one value.
    const client = new ContentLibraryClient({ url: 'https://127.0.0.1:1', username: 'u', password: 'p' });
    expect(client.keepAliveMs).toBe(row('agent', 'vsphere.keepAliveMs'));
    vi.stubEnv('FERRY_LOG_LEVEL', undefined);
    // pino's level, behind the Logger interface.
    expect((createLogger({}) as unknown as { level: string }).level).toBe(row('agent', 'log.level'));
  });
});
