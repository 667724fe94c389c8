/**
 * What a rollout left in NATS, for the rollout e2e tests: its record in `ferry_rollouts` and the
 * `FERRY_EVENTS` messages about its image.
 */
import { EVENTS_STREAM, parseRolloutRecord, ROLLOUTS_BUCKET, type RolloutRecord, rolloutKey } from '@ferry/shared';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';

export async function readRollout(
  nc: NatsConnection,
  name: string,
  version: string,
): Promise<RolloutRecord | undefined> {
  const kv = await new Kvm(nc).open(ROLLOUTS_BUCKET);
  const e = await kv.get(rolloutKey(name, version));
  return e?.operation === 'PUT' ? parseRolloutRecord(e.json()) : undefined;
}

/** Subject and `sentAt` of every event about name@version, in stream order. */
export async function eventsAbout(
  nc: NatsConnection,
  name: string,
  version: string,
): Promise<Array<{ subject: string; sentAt: string }>> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(EVENTS_STREAM);
  const out: Array<{ subject: string; sentAt: string }> = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    // null: a sequence removed by the stream's limits, a gap.
    const m = await jsm.streams.getMessage(EVENTS_STREAM, { seq });
    if (!m) continue;
    const e = m.json<{ sentAt: string; manifest?: { name: string; version: string } }>();
    if (e.manifest?.name === name && e.manifest.version === version) out.push({ subject: m.subject, sentAt: e.sentAt });
  }
  return out;
}
