/**
 * Lightweight agents for the fan-out benchmark: `count` fake sites in this process, each with its
 * own NATS connection, the real EventConsumer (two durable consumers), decodeEvent + decideEvent
 * (real ed25519 signature check) and a StatusWriter. No importer: each site stores its `pending`
 * record and prints `{"site","name","version","at"}` (wall ms) once it is stored.
 *
 *   tsx bench/fanout-worker.ts <natsUrl> <publicKeyFile> <sitePrefix> <from> <count>
 */
import { loadTrustedKeys, openTopology, silentLogger } from '@ferry/shared';
import { decideEvent, decodeEvent, EventConsumer, StatusWriter } from '@ferry/site-agent/internal';
import { connect, type NatsConnection } from '@nats-io/transport-node';

const [natsUrl, publicKeyFile, prefix, fromArg, countArg] = process.argv.slice(2);
if (!natsUrl || !publicKeyFile || !prefix || !fromArg || !countArg) {
  process.stderr.write('usage: fanout-worker.ts <natsUrl> <publicKeyFile> <sitePrefix> <from> <count>\n');
  process.exit(2);
}
const wallMs = () => performance.timeOrigin + performance.now();
const trusted = await loadTrustedKeys([publicKeyFile]);
const log = silentLogger();
const connections: NatsConnection[] = [];
const consumers: EventConsumer[] = [];
const from = Number(fromArg);

async function startSite(i: number): Promise<void> {
  const site = `${prefix}${String(i).padStart(3, '0')}`;
  const nc = await connect({ servers: natsUrl, name: `bench ${site}` });
  connections.push(nc);
  const topology = await openTopology(nc);
  const status = new StatusWriter(topology.status, site, 'bench', log);
  const consumer = new EventConsumer({
    nc,
    site,
    log,
    handle: async (msg) => {
      const decoded = decodeEvent(msg.data);
      if ('action' in decoded) return 'term';
      const { event } = decoded;
      if (event.kind === 'reconcile') return 'ack';
      const decision = decideEvent(event, {
        site: { site, zone: 'bench', labels: {} },
        trusted,
        current: status.current(event.manifest.name, event.manifest.version),
      });
      if (decision.action !== 'import') return decision.action === 'reject' ? 'term' : 'ack';
      const m = decision.manifest;
      await status.update(m.name, m.version, {
        state: 'pending',
        sha256: m.sha256,
        publishedAt: m.publishedAt,
        bytesDone: 0,
        bytesTotal: m.size,
        attempts: 0,
      });
      process.stdout.write(`${JSON.stringify({ site, name: m.name, version: m.version, at: wallMs() })}\n`);
      return 'ack';
    },
  });
  await consumer.start();
  consumers.push(consumer);
}

const indexes = Array.from({ length: Number(countArg) }, (_, k) => from + k);
for (let k = 0; k < indexes.length; k += 10) await Promise.all(indexes.slice(k, k + 10).map(startSite));
process.stdout.write(`${JSON.stringify({ ready: indexes.length })}\n`);

const shutdown = async () => {
  for (const c of consumers) await c.stop().catch(() => {});
  for (const nc of connections) await nc.close().catch(() => {});
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown());
process.stdin.on('end', () => void shutdown());
process.stdin.resume();
