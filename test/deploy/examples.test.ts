/** deploy/examples/: the zone configs and the coordinator config load with ferry's own loaders. */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAgentConfig, loadCoordinatorConfig } from '@ferry/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXAMPLE_AGENT_CONFIGS, EXAMPLE_ZONE_CONFIG, EXAMPLES_DIR, exampleWithSecrets } from './example-secrets.js';
import { NATS_DEPLOY_DIR } from './nats-deploy.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-examples-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('deploy/examples', () => {
  for (const site of EXAMPLE_AGENT_CONFIGS) {
    it(`${site}.yaml is a valid agent config whose secrets all come from files`, async () => {
      const config = await loadAgentConfig(await exampleWithSecrets(dir, site), {});
      expect(config.site).toBe(site);
      expect(config.vsphere.password.reveal()).toBe(`fake secret for ${site}/vcenter.pass`);
      expect(config.nats.password?.reveal()).toBe(`fake secret for ${site}/nats.pass`);
      if (config.store.type === 's3') expect(config.store.secretAccessKey?.reveal()).toMatch(/^fake/);
      if (config.store.type === 'artifactory') expect(config.store.token?.reveal()).toMatch(/^fake/);
      expect(config.vsphere.insecure).toBe(false);
      // The NATS user and inbox prefix the site's leaf node config expects.
      const leaf = await readFile(join(NATS_DEPLOY_DIR, `leaf-${site}.conf`), 'utf8');
      expect(config.nats.user).toBe(`agent-${site}`);
      expect(leaf).toContain(`user: ${config.nats.user}`);
      expect(leaf).toContain(`"${config.nats.inboxPrefix}.>"`);
    });
  }

  it(`${EXAMPLE_ZONE_CONFIG}.yaml: one agent, three targets (push, pull, subscribe), secrets from files`, async () => {
    const config = await loadAgentConfig(await exampleWithSecrets(dir, EXAMPLE_ZONE_CONFIG), {});
    expect(config.agent).toBe('dc3-corp');
    expect(config.targets.map((t) => [t.site, t.transfer, t.subscribe])).toEqual([
      ['dc3-vc1', 'push', undefined],
      ['dc3-vc2', 'pull', undefined],
      ['dc3-vc3', 'push', 'dc3-vc1'],
    ]);
    for (const [i, t] of config.targets.entries()) {
      expect(t.vsphere.password.reveal()).toBe(`fake secret for dc3-corp/vcenter${i + 1}.pass`);
      expect(t.vsphere.insecure).toBe(false);
      expect(t.labels.region).toBe('eu-central');
    }
    expect(config.targets[0]!.labels.canary).toBe('true');
    expect(config.targets[0]!.imports).toBe(1);
    expect(config.targets.map((t) => t.deployCheck.enabled)).toEqual([true, false, false]);
    expect(config.pull?.url).toBe('https://ferry-dc3.example.com:9465');
    expect(config.bandwidth).toEqual({ store: 400 * 2 ** 20, vcenter: 200 * 2 ** 20 });
    expect(config.targets[1]!.bandwidth).toEqual({ vcenter: 100 * 2 ** 20 });
    if (config.store.type === 'artifactory') expect(config.store.token?.reveal()).toMatch(/^fake/);
  });

  it('coordinator.yaml is a valid coordinator config', async () => {
    const config = await loadCoordinatorConfig(await exampleWithSecrets(dir, 'coordinator'), {});
    expect(config.nats.user).toBe('ferry-coordinator');
    expect(config.nats.password?.reveal()).toMatch(/^fake/);
    expect(config.http.token?.reveal()).toMatch(/^fake/);
    expect(config.signing?.privateKeyFile).toMatch(/keys\/release\.key$/);
    const hub = await readFile(join(NATS_DEPLOY_DIR, 'hub.conf'), 'utf8');
    expect(hub).toContain(`user: ${config.nats.user}`);
  });

  it('every example config in deploy/examples is one of those loaded above', async () => {
    const yamls = (await readdir(EXAMPLES_DIR)).filter((n) => /\.ya?ml$/.test(n)).sort();
    expect(yamls).toEqual(
      [...EXAMPLE_AGENT_CONFIGS, EXAMPLE_ZONE_CONFIG, 'coordinator'].map((n) => `${n}.yaml`).sort(),
    );
  });
});
