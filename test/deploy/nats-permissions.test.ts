/**
 * The NATS configs of deploy/nats/ (3-node hub + one leaf node per site, real nats-server
 * 2.9.10) enforce ferry's permission model: a site agent reads events meant for `all` and for
 * its own site, writes its own status and heartbeat keys, reads the catalog, and nothing else.
 * Each rule is proven both ways by its effect (what the coordinator sees afterwards), and a
 * real SiteAgent with those credentials imports a published image through its leaf node.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  Catalog,
  EVENTS_STREAM,
  EventBus,
  ensureTopology,
  loadAgentConfig,
  type ObjectStore,
  openTopology,
  parseHeartbeat,
  parseStatusRecord,
  SITE_CONTROL_SCHEMA,
  silentLogger,
  siteControlKey,
  statusKey,
  type Topology,
} from '@ferry/shared';
import { createAgentRuntime, SiteAgent } from '@ferry/site-agent/internal';
import { AckPolicy, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeAgentConfig } from '../support/agent-config.js';
import { makeTestKey, stageImage, type TestKey } from '../support/images.js';
import { waitFor } from '../support/wait.js';
import { buildOva } from '../world/ova.js';
import { type S3Handle, s3Store, startS3 } from '../world/s3.js';
import { startVcsim, type VcsimHandle } from '../world/vcsim.js';
import { type DeployedNats, startDeployedNats } from './nats-deploy.js';

const SITE = 'dc1-corp';
const INBOX = `_INBOX.ferry-agent-${SITE}`;

let nats: DeployedNats;
let dir: string;
let coord: NatsConnection;
let topology: Topology;
let agent: NatsConnection;
let agentErrors: string[] = [];

/** Connects as `agent-<site>` to that site's leaf node, the way the agent does. */
async function connectAgent(site = SITE): Promise<NatsConnection> {
  return connect({
    servers: nats.leaves[site]!.url,
    user: `agent-${site}`,
    pass: nats.passwords.agents[site],
    inboxPrefix: `_INBOX.ferry-agent-${site}`,
    timeout: 5_000,
  });
}

function collectErrors(nc: NatsConnection, into: string[]): void {
  void (async () => {
    for await (const s of nc.status()) if (s.type === 'error') into.push(String(s.error?.message ?? s.error));
  })();
}

/** Runs `fn` expecting it to fail (a permissions violation answers as an error or as no answer). */
async function refused(fn: () => Promise<unknown>): Promise<string> {
  try {
    await fn();
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected the operation to be refused, it succeeded');
}

async function streamMessages(jsm: JetStreamManager, stream: string): Promise<number> {
  return (await jsm.streams.info(stream)).state.messages;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ferry-deploy-perm-'));
  nats = await startDeployedNats();
  coord = await connect({
    servers: nats.hub.map((s) => s.url),
    user: 'ferry-coordinator',
    pass: nats.passwords.coordinator,
  });
  // A freshly elected 3-node cluster can time out its first stream creations on a busy machine.
  topology = await waitFor(() => ensureTopology(coord), {
    what: 'the topology on a freshly elected cluster',
    timeoutMs: 60_000,
    intervalMs: 2_000,
    ignoreErrors: true,
  });
  agent = await connectAgent();
  agentErrors = [];
  collectErrors(agent, agentErrors);
});

afterAll(async () => {
  await agent?.close().catch((err: unknown) => console.warn('cleanup failed:', err));
  await coord?.close().catch((err: unknown) => console.warn('cleanup failed:', err));
  await nats?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('deploy/nats: what an agent may not do', () => {
  it('cannot publish events (ferry.events.>)', async () => {
    const jsm = await jetstreamManager(coord);
    const before = await streamMessages(jsm, EVENTS_STREAM);
    const js = jetstream(agent, { timeout: 2_000 });
    await refused(() => js.publish('ferry.events.all.published', '{}'));
    await refused(() => js.publish(`ferry.events.${SITE}.reconcile`, '{}'));
    agent.publish('ferry.events.dc2-corp.retired', '{}');
    await agent.flush();
    expect(await streamMessages(jsm, EVENTS_STREAM)).toBe(before);
    expect(nats.leaves[SITE]!.output()).toMatch(/Publish Violation .*ferry\.events\.dc2-corp\.retired/);
  });

  it("cannot write another site's status key or its heartbeat", async () => {
    const status = await new Kvm(agent).open('ferry_status');
    await refused(() => status.put('dc2-corp.ubuntu.1', '{"forged":true}', { timeout: 2_000 }));
    const sites = await new Kvm(agent).open('ferry_sites');
    await refused(() => sites.put('dc2-corp', '{"forged":true}', { timeout: 2_000 }));
    expect(await topology.status.get('dc2-corp.ubuntu.1')).toBeNull();
    expect(await topology.sites.get('dc2-corp')).toBeNull();
  });

  it('cannot write its own _control key (only the coordinator suspends a site)', async () => {
    const status = await new Kvm(agent).open('ferry_status');
    await refused(() => status.put(siteControlKey(SITE), '{"suspended":false}', { timeout: 2_000 }));
    expect(await topology.status.get(siteControlKey(SITE))).toBeNull();
  });

  it("cannot read another site's status records", async () => {
    await topology.status.put('dc2-corp.secret-image.1', '{}');
    // Direct get (what the agent uses) names the key in its subject; the plain message get does not.
    const { status } = await openTopology(agent);
    await refused(() => status.get('dc2-corp.secret-image.1'));
    await refused(async () => (await new Kvm(agent).open('ferry_status')).get('dc2-corp.secret-image.1'));
    const keys: string[] = [];
    await refused(async () => {
      for await (const k of await status.keys('dc2-corp.>')) keys.push(k);
    });
    expect(keys).toEqual([]);
  });

  it('cannot create a consumer that reads events of another site', async () => {
    const jsm = await jetstreamManager(agent, { timeout: 2_000 });
    const base = { ack_policy: AckPolicy.Explicit };
    // Its own consumer name with another site's filter, the other site's name, and an ephemeral.
    for (const [name, filter] of [
      [`ferry-agent-${SITE}-site`, 'ferry.events.dc2-corp.>'],
      ['ferry-agent-dc2-corp-site', 'ferry.events.dc2-corp.>'],
      [`ferry-agent-${SITE}-all`, 'ferry.events.>'],
    ] as const) {
      await refused(() => jsm.consumers.add(EVENTS_STREAM, { ...base, durable_name: name, filter_subject: filter }));
    }
    await refused(() => jsm.consumers.add(EVENTS_STREAM, { ...base, filter_subject: 'ferry.events.dc2-corp.>' }));
    // The old durable-create API (filter only in the body) is not allowed either.
    await refused(() =>
      agent.request(
        `$JS.API.CONSUMER.DURABLE.CREATE.${EVENTS_STREAM}.x`,
        JSON.stringify({
          stream_name: EVENTS_STREAM,
          config: { ...base, durable_name: 'x', filter_subject: 'ferry.events.>' },
        }),
        { timeout: 2_000 },
      ),
    );
    // An allowed create subject whose body asks for another filter: the server refuses it.
    const reply = await agent.request(
      `$JS.API.CONSUMER.CREATE.${EVENTS_STREAM}.ferry-agent-${SITE}-site.ferry.events.${SITE}.>`,
      JSON.stringify({
        stream_name: EVENTS_STREAM,
        config: { ...base, durable_name: `ferry-agent-${SITE}-site`, filter_subject: 'ferry.events.dc2-corp.>' },
      }),
      { timeout: 2_000 },
    );
    expect(reply.json<{ error?: { description: string } }>().error?.description).toMatch(/filter/i);
    const names: string[] = [];
    for await (const c of (await jetstreamManager(coord)).consumers.list(EVENTS_STREAM)) names.push(c.name);
    expect(names).toEqual([]);
  });

  it('cannot subscribe to events, KV subjects or other inboxes directly', async () => {
    const errors: string[] = [];
    const nc = await connectAgent();
    collectErrors(nc, errors);
    for (const subject of ['ferry.events.>', '$KV.ferry_status.>', '_INBOX.>', '_INBOX.ferry-agent-dc2-corp.>']) {
      nc.subscribe(subject);
    }
    await nc.flush();
    // The server logs each refusal as it handles it: wait for all four lines, not for a while.
    const violation = (subject: string) => `Subscription Violation - User "agent-${SITE}", Subject "${subject}"`;
    await waitFor(
      () =>
        ['ferry.events.>', '$KV.ferry_status.>', '_INBOX.>', '_INBOX.ferry-agent-dc2-corp.>'].every((subject) =>
          nats.leaves[SITE]!.output().includes(violation(subject)),
        ),
      { what: `four subscription violations in the leaf log:\n${nats.leaves[SITE]!.output().slice(-2000)}` },
    );
    await nc.close();
  });

  it("another site's credentials do not work on this site's leaf node", async () => {
    await refused(() =>
      connect({
        servers: nats.leaves[SITE]!.url,
        user: 'agent-dc2-corp',
        pass: nats.passwords.agents['dc2-corp'],
        timeout: 2_000,
        maxReconnectAttempts: 0,
      }),
    );
  });
});

describe('deploy/nats: what an agent may do', () => {
  it('creates its two durable consumers, pulls and acks', async () => {
    const bus = new EventBus(coord);
    const manifestless = { kind: 'reconcile' } as const;
    await bus.publish('all', manifestless);
    await bus.publish(SITE, manifestless);
    await bus.publish('dc2-corp', manifestless);
    const jsm = await jetstreamManager(agent);
    const js = jetstream(agent);
    for (const [name, filter] of [
      [`ferry-agent-${SITE}-all`, 'ferry.events.all.>'],
      [`ferry-agent-${SITE}-site`, `ferry.events.${SITE}.>`],
    ] as const) {
      await jsm.consumers.add(EVENTS_STREAM, {
        durable_name: name,
        filter_subject: filter,
        ack_policy: AckPolicy.Explicit,
        max_ack_pending: 5,
      });
      expect((await jsm.consumers.info(EVENTS_STREAM, name)).config.filter_subject).toBe(filter);
      const consumer = await js.consumers.get(EVENTS_STREAM, name);
      const msg = await consumer.next({ expires: 2_000 });
      expect(msg?.subject).toBe(filter.replace('>', 'reconcile'));
      await msg!.ackAck();
      expect((await jsm.consumers.info(EVENTS_STREAM, name)).ack_floor.stream_seq).toBe(msg!.seq);
    }
    // Kept: the real agent below finds them with another max_ack_pending and updates them
    // (an update goes through the same filter-pinned create subject).
  });

  it('writes and reads its own status keys, writes its heartbeat, reads its _control key', async () => {
    const t = await openTopology(agent);
    await t.status.put(`${SITE}.ubuntu.1`, '{"ok":1}');
    await t.status.put(`${SITE}._reconcile`, '{"ok":1}');
    expect((await t.status.get(`${SITE}.ubuntu.1`))?.string()).toBe('{"ok":1}');
    await t.sites.put(SITE, '{"beat":1}');
    expect((await topology.sites.get(SITE))?.string()).toBe('{"beat":1}');
    const keys: string[] = [];
    for await (const k of await t.status.keys(`${SITE}.>`)) keys.push(k);
    expect(keys.sort()).toEqual([`${SITE}._reconcile`, `${SITE}.ubuntu.1`]);
    await topology.status.put(siteControlKey(SITE), '{"from":"coordinator"}');
    expect((await t.status.get(siteControlKey(SITE)))?.string()).toBe('{"from":"coordinator"}');
    for (const k of [`${SITE}.ubuntu.1`, `${SITE}._reconcile`, siteControlKey(SITE)]) await topology.status.purge(k);
    await topology.sites.purge(SITE);
  });

  it('reads the catalog (get and keys) and cannot write it', async () => {
    await topology.catalog.put('probe.1', '{"probe":true}');
    const t = await openTopology(agent);
    expect((await t.catalog.get('probe.1'))?.string()).toBe('{"probe":true}');
    const keys: string[] = [];
    for await (const k of await t.catalog.keys()) keys.push(k);
    expect(keys).toContain('probe.1');
    await refused(() => t.catalog.put('probe.1', '{"forged":true}', { timeout: 2_000 }));
    expect((await topology.catalog.get('probe.1'))?.string()).toBe('{"probe":true}');
    await topology.catalog.purge('probe.1');
  });

  it('reads rollouts (get and keys) and cannot write them', async () => {
    const kv = topology.rollouts!;
    await kv.put('probe.1', '{"probe":true}');
    const t = await openTopology(agent);
    expect((await t.rollouts!.get('probe.1'))?.string()).toBe('{"probe":true}');
    const keys: string[] = [];
    for await (const k of await t.rollouts!.keys()) keys.push(k);
    expect(keys).toContain('probe.1');
    await refused(() => t.rollouts!.put('probe.1', '{"forged":true}', { timeout: 2_000 }));
    expect((await kv.get('probe.1'))?.string()).toBe('{"probe":true}');
    await kv.purge('probe.1');
  });
});

describe('deploy/nats: a real agent with least-privilege credentials', () => {
  let s3: S3Handle;
  let vcsim: VcsimHandle;
  let key: TestKey;
  let store: ObjectStore;
  let siteAgent: SiteAgent | undefined;

  beforeAll(async () => {
    [s3, vcsim] = await Promise.all([startS3(), startVcsim()]);
    key = await makeTestKey(dir);
    store = s3Store(s3);
  });
  afterAll(async () => {
    await siteAgent?.stop(1_000).catch((err: unknown) => console.warn('cleanup failed:', err));
    await Promise.allSettled([s3?.destroy(), vcsim?.stop()]);
  });

  it('imports an image the coordinator publishes (status ready) and obeys suspend', async () => {
    const siteDir = join(dir, SITE);
    const file = await writeAgentConfig({
      dir: siteDir,
      site: SITE,
      zone: 'corporate',
      s3,
      vcsim,
      publicKeyFile: key.publicKeyFile,
      extra: {
        nats: {
          servers: [nats.leaves[SITE]!.url],
          user: `agent-${SITE}`,
          passwordFile: 'nats.pass',
          inboxPrefix: INBOX,
        },
        reconcile: { enabled: true, schedule: '0 0 1 1 *' },
        jobs: { retryBase: '200ms', retryMax: '2s', shutdownGrace: '5s' },
      },
    });
    await writeFile(join(siteDir, 'nats.pass'), nats.passwords.agents[SITE]!, { mode: 0o600 });
    const config = await loadAgentConfig(file, {});
    const logBefore = nats.leaves[SITE]!.output().length;
    expect(config.nats.inboxPrefix).toBe(INBOX);
    siteAgent = new SiteAgent(await createAgentRuntime(config, silentLogger()), {
      heartbeatIntervalMs: 300,
      http: false,
    });
    await siteAgent.start();
    const cjsm = await jetstreamManager(coord);
    for (const suffix of ['all', 'site']) {
      expect((await cjsm.consumers.info(EVENTS_STREAM, `ferry-agent-${SITE}-${suffix}`)).config.max_ack_pending).toBe(
        64,
      );
    }

    // The coordinator's side, with its own credentials on the hub.
    await mkdir(join(dir, 'ova'), { recursive: true });
    const ova = await buildOva(join(dir, 'ova'), { name: 'ubuntu', diskSize: 256 * 1024 });
    const manifest = await stageImage(store, key, ova, { name: 'ubuntu', version: '2026.11.21' });
    await new Catalog(topology.catalog).put(manifest);
    await new EventBus(coord).publish('all', { kind: 'published', manifest });

    let state = '';
    await waitFor(
      async () => {
        const e = await topology.status.get(statusKey(SITE, 'ubuntu', '2026.11.21'));
        state = e?.operation === 'PUT' ? parseStatusRecord(e.json()).state : '';
        return state === 'ready';
      },
      { what: () => `ubuntu@2026.11.21 ready at ${SITE} (state: ${state})`, timeoutMs: 60_000, intervalMs: 200 },
    );
    const hb = await topology.sites.get(SITE);
    expect(parseHeartbeat(hb!.json()).site).toBe(SITE);

    // `ferry suspend` writes <site>._control; the agent's watch (an ordered consumer) sees it.
    await topology.status.put(
      siteControlKey(SITE),
      JSON.stringify({
        schema: SITE_CONTROL_SCHEMA,
        site: SITE,
        suspended: true,
        at: new Date().toISOString(),
        by: 'test',
      }),
    );
    await waitFor(() => siteAgent!.suspended, { what: `${SITE} suspended` });

    await siteAgent.stop(2_000);
    siteAgent = undefined;
    // Not one request of the real agent was refused.
    expect(nats.leaves[SITE]!.output().slice(logBefore)).not.toMatch(/Violation/);
  });
});

describe('deploy/nats: the templates', () => {
  it('every leaf config is the dc1-corp one with its own site id', async () => {
    const { readFile } = await import('node:fs/promises');
    const { EXAMPLE_SITES, NATS_DEPLOY_DIR } = await import('./nats-deploy.js');
    const reference = (await readFile(join(NATS_DEPLOY_DIR, 'leaf-dc1-corp.conf'), 'utf8')).split('\n').slice(1);
    const hub = await readFile(join(NATS_DEPLOY_DIR, 'hub.conf'), 'utf8');
    for (const site of EXAMPLE_SITES) {
      const text = await readFile(join(NATS_DEPLOY_DIR, `leaf-${site}.conf`), 'utf8');
      expect(text.split('\n').slice(1).join('\n').replaceAll(site, SITE)).toBe(reference.join('\n'));
      expect(hub).toContain(
        `{ user: leaf-${site}, password: $FERRY_NATS_LEAF_${site.toUpperCase().replaceAll('-', '_')}_PASSWORD, account: FERRY }`,
      );
    }
    // On the installed 2.9.10 the test drops this line (SYNC_INTERVAL_LINE); the template keeps it.
    expect(hub).toContain('  sync_interval: always\n');
  });
});
