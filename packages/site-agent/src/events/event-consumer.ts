import {
  consumerNames,
  describeError,
  EVENTS_STREAM,
  type Logger,
  MessagingError,
  siteFilterSubjects,
} from '@ferry/shared';
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';

export type MessageOutcome = 'ack' | 'term' | 'nak';

export interface EventConsumerOptions {
  nc: NatsConnection;
  site: string;
  log: Logger;
  /** Handles one message; its answer decides ack, term (poison, never again) or nak (retry later). */
  handle(msg: JsMsg): Promise<MessageOutcome>;
  /** Messages a consumer may have delivered and not yet acked. */
  maxAckPending?: number;
}

const SECOND_NS = 1e9;

/**
 * The site's two durable pull consumers on FERRY_EVENTS: `ferry.events.all.>` and
 * `ferry.events.<site>.>` (nats-server 2.9 allows one filter subject per consumer).
 * Each is processed in order, one message at a time; a durable consumer keeps its
 * position, so an agent that was away gets everything it missed when it returns.
 */
export class EventConsumer {
  readonly #o: EventConsumerOptions;
  readonly #iterators: ConsumerMessages[] = [];
  readonly #loops: Promise<void>[] = [];

  constructor(options: EventConsumerOptions) {
    this.#o = options;
  }

  async start(): Promise<void> {
    const { nc, site } = this.#o;
    const names = consumerNames(site);
    const filters = siteFilterSubjects(site);
    try {
      const jsm = await jetstreamManager(nc);
      for (const [i, name] of names.entries()) {
        const config = {
          durable_name: name,
          filter_subject: filters[i]!,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          max_ack_pending: this.#o.maxAckPending ?? 64,
          ack_wait: 60 * SECOND_NS,
          // A message whose handling keeps failing is dropped after this; reconcile repairs the gap.
          max_deliver: 20,
          description: `ferry agent ${site}`,
        };
        const existing = await jsm.consumers.info(EVENTS_STREAM, name).catch(() => undefined);
        if (!existing) await jsm.consumers.add(EVENTS_STREAM, config);
        else if (existing.config.max_ack_pending !== config.max_ack_pending)
          await jsm.consumers.update(EVENTS_STREAM, name, config);
      }
      const js = jetstream(nc);
      for (const name of names) {
        const consumer = await js.consumers.get(EVENTS_STREAM, name);
        const messages = await consumer.consume({ max_messages: 16 });
        this.#iterators.push(messages);
        this.#loops.push(this.#loop(name, messages));
      }
    } catch (err) {
      throw new MessagingError(`cannot start the event consumers of ${site}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  async stop(): Promise<void> {
    for (const it of this.#iterators) it.stop();
    await Promise.allSettled(this.#loops);
  }

  async #loop(name: string, messages: ConsumerMessages): Promise<void> {
    const log = this.#o.log.child({ consumer: name });
    for await (const msg of messages) {
      let outcome: MessageOutcome;
      try {
        outcome = await this.#o.handle(msg);
      } catch (err) {
        log.warn({ seq: msg.seq, err: describeError(err).message }, 'event handling failed; will be redelivered');
        outcome = 'nak';
      }
      try {
        if (outcome === 'ack') await msg.ackAck();
        else if (outcome === 'term') msg.term();
        else msg.nak(Math.min(60_000, 1_000 * 2 ** Math.min(msg.info.deliveryCount, 6)));
      } catch (err) {
        // The ack was lost (e.g. a reconnect): the message comes again and the handler sees it is done.
        log.warn({ seq: msg.seq, err: describeError(err).message }, 'ack failed');
      }
    }
  }
}
