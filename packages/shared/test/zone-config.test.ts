/** The zone form of the agent config (`targets:`), and what it refuses with which message. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadAgentConfig } from '@ferry/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let dir: string;
let n = 0;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-zone-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const COMMON = [
  'zone: corporate',
  'labels: { region: eu }',
  'nats: { servers: [nats://127.0.0.1:4222] }',
  'store: { type: s3, bucket: images }',
  'cache: { dir: cache }',
  'trust: { publicKeys: [release.pub] }',
];
const vsphere = (lib: string) => `{ url: https://127.0.0.1:8989, username: u, library: ${lib}, datastore: ds }`;

async function load(lines: string[]) {
  const file = join(dir, `z${n++}.yaml`);
  await writeFile(file, [...COMMON, ...lines].join('\n'));
  return loadAgentConfig(file, { FERRY_VSPHERE_PASSWORD: 'p' });
}

async function loadError(lines: string[]): Promise<ConfigError> {
  const err = await load(lines).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ConfigError);
  return err as ConfigError;
}

describe('zone agent config', () => {
  it('lists targets; agent id, labels merged, defaults per target', async () => {
    const config = await load([
      'agent: dc1',
      'pull: { listen: 127.0.0.1:9465 }',
      'targets:',
      `  - { site: vc1, labels: { canary: "true" }, vsphere: ${vsphere('a')}, concurrency: { imports: 1 } }`,
      `  - { site: vc2, vsphere: ${vsphere('b')}, transfer: pull, bandwidth: { vcenter: 50MiB/s } }`,
      `  - { site: vc3, vsphere: ${vsphere('c')}, subscribe: vc1 }`,
    ]);
    expect(config.agent).toBe('dc1');
    expect(config.site).toBe('vc1');
    expect(config.vsphere.library).toBe('a');
    expect(config.targets.map((t) => ({ site: t.site, transfer: t.transfer, imports: t.imports }))).toEqual([
      { site: 'vc1', transfer: 'push', imports: 1 },
      { site: 'vc2', transfer: 'pull', imports: undefined },
      { site: 'vc3', transfer: 'push', imports: undefined },
    ]);
    expect(config.targets[0]!.labels).toEqual({ region: 'eu', canary: 'true' });
    expect(config.targets[1]!.bandwidth).toEqual({ vcenter: 50 * 2 ** 20 });
    expect(config.targets[2]!.subscribe).toBe('vc1');
    expect(config.pull?.url).toBeUndefined();
  });

  it.each([
    ['neither form', [], /site: give site and vsphere \(one vCenter\) or targets/],
    [
      'both forms',
      ['site: x', `vsphere: ${vsphere('a')}`, 'targets:', `  - { site: vc1, vsphere: ${vsphere('a')} }`],
      /site: not with targets.*vsphere: not with targets/,
    ],
    [
      'a site twice',
      ['targets:', `  - { site: vc1, vsphere: ${vsphere('a')} }`, `  - { site: vc1, vsphere: ${vsphere('b')} }`],
      /targets\.1\.site: vc1 is listed twice/,
    ],
    [
      'pull without the listener',
      ['targets:', `  - { site: vc1, vsphere: ${vsphere('a')}, transfer: pull }`],
      /targets\.0\.transfer: pull needs the agent-level pull/,
    ],
    [
      'subscribe to an unknown site',
      ['targets:', `  - { site: vc1, vsphere: ${vsphere('a')}, subscribe: vc9 }`],
      /targets\.0\.subscribe: names no target of this agent \(have vc1\)/,
    ],
    [
      'subscribe to itself',
      ['targets:', `  - { site: vc1, vsphere: ${vsphere('a')}, subscribe: vc1 }`],
      /cannot subscribe to itself/,
    ],
    [
      'subscribe to a subscribe target',
      [
        'targets:',
        `  - { site: vc1, vsphere: ${vsphere('a')} }`,
        `  - { site: vc2, vsphere: ${vsphere('b')}, subscribe: vc1 }`,
        `  - { site: vc3, vsphere: ${vsphere('c')}, subscribe: vc2 }`,
      ],
      /vc2 is itself a subscribe target/,
    ],
    [
      'a per-target store limit',
      ['targets:', `  - { site: vc1, vsphere: ${vsphere('a')}, bandwidth: { store: 10MiB/s } }`],
      /targets\.0\.bandwidth\.store: is agent-wide/,
    ],
    [
      'a bad rate',
      ['bandwidth: { vcenter: fast }', 'targets:', `  - { site: vc1, vsphere: ${vsphere('a')} }`],
      /bandwidth\.vcenter: expected a rate/,
    ],
  ])('refuses %s with a message that says what to do', async (_what, lines, message) => {
    expect((await loadError(lines)).message).toMatch(message);
  });

  it('names the target whose vCenter password is missing', async () => {
    const file = join(dir, 'nopass.yaml');
    await writeFile(
      file,
      [
        ...COMMON,
        'targets:',
        `  - { site: vc1, vsphere: ${vsphere('a')} }`,
        `  - { site: vc2, vsphere: ${vsphere('b')} }`,
      ].join('\n'),
    );
    const err = await loadAgentConfig(file, {}).then(
      () => undefined,
      (e: unknown) => e as ConfigError,
    );
    expect(err?.message).toMatch(
      /targets\.0\.vsphere\.passwordFile: no vCenter password.*targets\.1\.vsphere\.passwordFile/,
    );
  });
});
