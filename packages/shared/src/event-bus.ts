import { randomUUID } from 'node:crypto';
import { type JetStreamClient, jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { MessagingError } from './errors.js';
import { EVENT_SCHEMA, type FerryEvent } from './events.js';
import type { Manifest } from './manifest.js';
import { type EventTarget, eventSubject } from './nats-names.js';

export type EventBody =
  | { kind: 'published'; manifest: Manifest }
  | { kind: 'republish'; manifest: Manifest; force?: boolean }
  | { kind: 'retired'; manifest: Manifest }
  | { kind: 'reconcile' };

export interface PublishedEvent {
  subject: string;
  seq: number;
  /** JetStream already held a message with this Nats-Msg-Id: nothing new was stored. */
  duplicate: boolean;
}

/** Publishes ferry events on FERRY_EVENTS; `msgId` makes a retried publish land once. */
export class EventBus {
  readonly #js: JetStreamClient;

  constructor(nc: NatsConnection) {
    this.#js = jetstream(nc);
  }

  async publish(target: EventTarget, body: EventBody, msgId?: string): Promise<PublishedEvent> {
    const event: FerryEvent = {
      schema: EVENT_SCHEMA,
      id: msgId ?? randomUUID(),
      sentAt: new Date().toISOString(),
      ...body,
      ...(body.kind === 'republish' ? { force: body.force ?? false } : {}),
    } as FerryEvent;
    const subject = eventSubject(target, body.kind);
    try {
      const ack = await this.#js.publish(subject, JSON.stringify(event), { msgID: event.id, timeout: 10_000 });
      return { subject, seq: ack.seq, duplicate: ack.duplicate };
    } catch (err) {
      throw new MessagingError(`cannot publish ${body.kind} event on ${subject}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
}

/** Nats-Msg-Id of a published event: one per name, version and bytes. */
export function publishedMsgId(manifest: Pick<Manifest, 'name' | 'version' | 'sha256'>): string {
  return `${manifest.name}@${manifest.version}:${manifest.sha256}`;
}
