import {
  DiscardPolicy,
  type JetStreamManager,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import { type KV, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { DEFAULT_JETSTREAM_REPLICAS } from './config.js';
import { MessagingError } from './errors.js';
import { CATALOG_BUCKET, EVENTS_STREAM, EVENTS_SUBJECT_PREFIX, SITES_BUCKET, STATUS_BUCKET } from './nats-names.js';
import { ROLLOUTS_BUCKET } from './rollout.js';

const DAY_NS = 24 * 60 * 60 * 1e9;

export interface Topology {
  catalog: KV;
  status: KV;
  sites: KV;
  /**
   * `ferry_rollouts`. Undefined only when an agent opens a hub whose coordinator predates rollouts
   * (the bucket is missing): then no image has a rollout.
   */
  rollouts?: KV;
}

export interface TopologyOptions {
  /** Replicas for the stream and buckets (3 on a 3-node hub cluster); default `jetstream.replicas`'s. */
  replicas?: number;
}

/**
 * Creates FERRY_EVENTS and the four KV buckets if they are missing, and leaves
 * existing ones as they are (safe to call from every process at every start).
 */
export async function ensureTopology(nc: NatsConnection, options: TopologyOptions = {}): Promise<Topology> {
  const replicas = options.replicas ?? DEFAULT_JETSTREAM_REPLICAS;
  try {
    const jsm = await jetstreamManager(nc);
    await ensureEventsStream(jsm, replicas);
    const kvm = new Kvm(nc);
    const [catalog, status, sites, rollouts] = await Promise.all([
      kvm.create(CATALOG_BUCKET, { history: 5, replicas, description: 'ferry: signed manifests by <name>.<version>' }),
      kvm.create(STATUS_BUCKET, { history: 1, replicas, description: 'ferry: job status by <site>.<name>.<version>' }),
      kvm.create(SITES_BUCKET, { history: 1, replicas, description: 'ferry: agent heartbeats by <site>' }),
      kvm.create(ROLLOUTS_BUCKET, { history: 5, replicas, description: 'ferry: rollout state by <name>.<version>' }),
    ]);
    return { catalog, status, sites, rollouts };
  } catch (err) {
    throw new MessagingError(`cannot create or open ferry's JetStream stream and buckets: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * Opens the three buckets without creating anything (for least-privilege clients), and reads
 * each bucket's stream config so that `get` uses direct get when the bucket allows it
 * (`Kvm.open` alone never does). Direct get names the key in its subject
 * (`$JS.API.DIRECT.GET.KV_<bucket>.$KV.<bucket>.<key>`), which lets NATS permissions give an
 * agent its own status keys and not another site's; the non-direct
 * `$JS.API.STREAM.MSG.GET.KV_<bucket>` carries the key in its body and cannot be restricted.
 */
export async function openTopology(nc: NatsConnection): Promise<Topology> {
  try {
    const jsm = await jetstreamManager(nc);
    const kvm = new Kvm(nc);
    const open = async (bucket: string) => {
      const info = await jsm.streams.info(`KV_${bucket}`);
      return kvm.open(bucket, { allow_direct: info.config.allow_direct === true });
    };
    const [catalog, status, sites] = await Promise.all([open(CATALOG_BUCKET), open(STATUS_BUCKET), open(SITES_BUCKET)]);
    const rollouts = await open(ROLLOUTS_BUCKET).catch((err: unknown) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    return { catalog, status, sites, ...(rollouts ? { rollouts } : {}) };
  } catch (err) {
    throw new MessagingError(`cannot open ferry's KV buckets: ${(err as Error).message}`, { cause: err });
  }
}

async function ensureEventsStream(jsm: JetStreamManager, replicas: number): Promise<void> {
  const config = {
    name: EVENTS_STREAM,
    subjects: [`${EVENTS_SUBJECT_PREFIX}.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    max_age: 30 * DAY_NS,
    discard: DiscardPolicy.Old,
    // A retried publish with the same Nats-Msg-Id within this window is stored once.
    duplicate_window: 10 * 60 * 1e9,
    max_msg_size: 1024 * 1024,
    num_replicas: replicas,
  };
  try {
    await jsm.streams.info(EVENTS_STREAM);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    try {
      await jsm.streams.add(config);
    } catch (addErr) {
      // Another process created it between info and add.
      if (!/already in use|exists/i.test((addErr as Error).message)) throw addErr;
    }
  }
}

function isNotFound(err: unknown): boolean {
  const e = err as { code?: string | number; api_error?: { err_code?: number }; message?: string };
  return e?.api_error?.err_code === 10059 || e?.code === 404 || /not found/i.test(e?.message ?? '');
}
