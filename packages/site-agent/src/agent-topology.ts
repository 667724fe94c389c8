import { CATALOG_BUCKET, MessagingError, SITES_BUCKET, STATUS_BUCKET, type Topology } from '@ferry/shared';
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';

/**
 * Opens the three buckets the coordinator created, without creating anything, and reads each
 * bucket's stream config so that `get` uses direct get when the bucket allows it (nats.js's
 * `Kvm.open` alone never does). Direct get names the key in its subject
 * (`$JS.API.DIRECT.GET.KV_<bucket>.$KV.<bucket>.<key>`), which is what lets a least-privilege
 * agent user (deploy/nats) read its own status keys and not another site's; the non-direct
 * `$JS.API.STREAM.MSG.GET.KV_<bucket>` carries the key in its body and cannot be restricted.
 */
export async function openAgentTopology(nc: NatsConnection): Promise<Topology> {
  try {
    const jsm = await jetstreamManager(nc);
    const kvm = new Kvm(nc);
    const open = async (bucket: string) => {
      const info = await jsm.streams.info(`KV_${bucket}`);
      return kvm.open(bucket, { allow_direct: info.config.allow_direct === true });
    };
    const [catalog, status, sites] = await Promise.all([open(CATALOG_BUCKET), open(STATUS_BUCKET), open(SITES_BUCKET)]);
    return { catalog, status, sites };
  } catch (err) {
    throw new MessagingError(`cannot open ferry's KV buckets: ${(err as Error).message}`, { cause: err });
  }
}
