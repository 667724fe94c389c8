import { consumerNames, EVENTS_STREAM, EventBus, publishedMsgId } from '@ferry/shared';
import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ferry, writeCoordinatorConfig } from '../support/coordinator-config.js';
import { SiteWorld } from '../support/site-world.js';
import { waitFor } from '../support/wait.js';

let world: SiteWorld;
const SITE = 'dc1';

beforeAll(async () => {
  world = await SiteWorld.start([{ site: SITE }]);
});
afterAll(async () => {
  await world?.stop();
});

describe('fault: duplicates', () => {
  it('the same event three times and a retried `ferry publish` give one import', async () => {
    const agent = await world.startAgent(SITE);
    const config = await writeCoordinatorConfig(world);
    const ova = await world.buildOva({ name: 'dup', diskSize: 4 * 2 ** 20 });
    const first = await ferry(['publish', ova.path, '--name', 'dup', '--version', '1', '--config', config]);
    expect(first.code, first.err).toBe(0);
    // The publish is retried (say, after a client timeout): a no-op.
    const retried = await ferry(['publish', ova.path, '--name', 'dup', '--version', '1', '--config', config]);
    expect(retried.code).toBe(0);
    expect(retried.out).toMatch(/already published/);

    const manifest = (await world.catalog.get('dup', '1'))!;
    const bus = new EventBus(world.nc);
    // The same event re-sent with its Nats-Msg-Id: JetStream stores it once.
    expect((await bus.publish('all', { kind: 'published', manifest }, publishedMsgId(manifest))).duplicate).toBe(true);
    // And twice more under new ids (a relay that lost the id): the agent imports once.
    await bus.publish('all', { kind: 'published', manifest });
    await bus.publish('all', { kind: 'published', manifest });
    const jsm = await jetstreamManager(world.nc);
    expect((await jsm.streams.info(EVENTS_STREAM)).state.messages).toBe(3);

    await world.waitForStatus(SITE, 'dup', '1');
    // Not a pause but the state a second import would show in: every event acked by the site's
    // consumers (so each was decided on) and nothing left in the transfer queues.
    const last = (await jsm.streams.info(EVENTS_STREAM)).state.last_seq;
    await waitFor(
      async () => {
        for (const name of consumerNames(SITE)) {
          const info = await jsm.consumers.info(EVENTS_STREAM, name);
          if (info.num_pending > 0 || info.num_ack_pending > 0) return false;
        }
        const all = await jsm.consumers.info(EVENTS_STREAM, consumerNames(SITE)[0]);
        return all.ack_floor.stream_seq >= last && agent.rt.queues.depth === 0;
      },
      { what: `${SITE} to ack all ${last} events and drain its queues` },
    );
    const metrics = await (await fetch(`${agent.httpUrl}/metrics`)).text();
    expect(metrics).toMatch(/^ferry_imports_total\{result="ready"\} 1$/m);
    expect(metrics).toMatch(/^ferry_bytes_imported_total \d+$/m);
    const items = (await agent.rt.library.listItems(await agent.rt.libraryId())).filter((i) => i.name === 'dup-1');
    expect(items).toHaveLength(1);
  });
});
