import { jetstream, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { connect } from '@nats-io/transport-node';
import { afterAll, describe, expect, test } from 'vitest';
import { waitFor } from '../support/wait.js';
import { type NatsHandle, startHubWithLeaves, startNats, startNatsCluster } from './nats.js';

type Conn = Awaited<ReturnType<typeof connect>>;
const cleanups: Array<() => Promise<unknown>> = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

async function connectTo(servers: string | string[]): Promise<Conn> {
  const nc = await connect({ servers, maxReconnectAttempts: -1, reconnectTimeWait: 100, timeout: 5_000 });
  cleanups.push(() => nc.close());
  return nc;
}

describe('single nats-server with JetStream', () => {
  let server: NatsHandle;

  test('stream and KV survive a restart with the store dir kept; the client reconnects', async () => {
    server = await startNats();
    cleanups.push(() => server.destroy());
    expect(server.url).toMatch(/^nats:\/\/127\.0\.0\.1:\d+$/);

    const nc = await connectTo(server.url);
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'FERRY_EVENTS', subjects: ['ferry.events.>'], storage: StorageType.File });
    const js = jetstream(nc);
    const ack1 = await js.publish('ferry.events.all.published', JSON.stringify({ n: 1 }), { msgID: 'evt-1' });
    const dup = await js.publish('ferry.events.all.published', JSON.stringify({ n: 1 }), { msgID: 'evt-1' });
    expect(dup.duplicate).toBe(true);
    expect(dup.seq).toBe(ack1.seq);

    const kv = await new Kvm(nc).create('ferry_status');
    await kv.put('dc1.ubuntu.2026-11-21', JSON.stringify({ state: 'ready' }));

    let reconnected = false;
    (async () => {
      for await (const s of nc.status()) if (s.type === 'reconnect') reconnected = true;
    })().catch(() => undefined);

    const storeDir = server.storeDir;
    await server.restart();
    expect(server.storeDir).toBe(storeDir);

    // The same connection comes back on its own and sees the persisted state.
    await waitFor(() => reconnected, { what: 'the client to reconnect', intervalMs: 50 });
    const info = await waitFor(() => jsm.streams.info('FERRY_EVENTS'), {
      what: 'FERRY_EVENTS after the restart',
      ignoreErrors: true,
    });
    expect(info.state.messages).toBe(1);
    const kv2 = await new Kvm(nc).open('ferry_status');
    const entry = await kv2.get('dc1.ubuntu.2026-11-21');
    expect(entry?.json<{ state: string }>()).toEqual({ state: 'ready' });

    // And a SIGKILL loses nothing that was acknowledged either.
    await kv2.put('dc1.ubuntu.2026-11-22', 'x');
    await server.kill();
    await server.restart();
    const nc2 = await connectTo(server.url);
    const kv3 = await new Kvm(nc2).open('ferry_status');
    expect((await kv3.get('dc1.ubuntu.2026-11-22'))?.string()).toBe('x');
  });
});

describe('3-node JetStream cluster', () => {
  test('has a meta leader and serves a replicated stream and KV', async () => {
    const cluster = await startNatsCluster(3);
    cleanups.push(() => cluster.stop());
    expect(cluster.urls).toHaveLength(3);

    const nc = await connectTo(cluster.urls);
    const jsm = await jetstreamManager(nc);
    const account = await jsm.getAccountInfo();
    expect(account).toBeTruthy();
    const si = await jsm.streams.add({ name: 'R3', subjects: ['r3.>'], num_replicas: 3 });
    expect(si.config.num_replicas).toBe(3);
    const js = jetstream(nc);
    await js.publish('r3.a', 'hello');
    const kv = await new Kvm(nc).create('ferry_sites', { replicas: 3 });
    await kv.put('dc1', 'alive');

    // A client on another node of the cluster reads both.
    const nc2 = await connectTo(cluster.urls[2]!);
    const msg = await (await jetstreamManager(nc2)).streams.getMessage('R3', { seq: 1 });
    expect(msg?.string()).toBe('hello');
    expect((await (await new Kvm(nc2).open('ferry_sites')).get('dc1'))?.string()).toBe('alive');
  });
});

describe('hub with leaf nodes', () => {
  test("a client on a leaf puts a KV key the hub's client sees, and vice versa", async () => {
    const world = await startHubWithLeaves(['dc1', 'dc2']);
    cleanups.push(() => world.stop());

    const onHub = await connectTo(world.hub.url);
    const hubKv = await new Kvm(onHub).create('ferry_status');

    const onLeaf = await connectTo(world.leaves.dc1!.url);
    const leafKv = await new Kvm(onLeaf).open('ferry_status');
    await leafKv.put('dc1.ubuntu.1', 'from-leaf');
    expect((await hubKv.get('dc1.ubuntu.1'))?.string()).toBe('from-leaf');

    await hubKv.put('dc2.ubuntu.1', 'from-hub');
    const onLeaf2 = await connectTo(world.leaves.dc2!.url);
    expect((await (await new Kvm(onLeaf2).open('ferry_status')).get('dc2.ubuntu.1'))?.string()).toBe('from-hub');

    // JetStream streams too: a leaf client creates one that lives on the hub.
    const leafJsm = await jetstreamManager(onLeaf);
    await leafJsm.streams.add({ name: 'FROM_LEAF', subjects: ['leaf.>'] });
    await jetstream(onLeaf).publish('leaf.x', 'y');
    const hubInfo = await (await jetstreamManager(onHub)).streams.info('FROM_LEAF');
    expect(hubInfo.state.messages).toBe(1);
  });
});
