/**
 * Listing a KV bucket's keys. `kv.keys()` of @nats-io/kv lists with an ordered consumer (last
 * value per subject) that keeps delivering until nothing is pending, so a key written while the
 * listing runs (an agent's heartbeat, a status update) is listed again: `dc2, dc3, dc1, dc1`.
 * Every caller means the set of keys, so they list through here. (Such a write can also make the
 * listing end only at its idle heartbeat, ~30 s later with nats-server 2.9.10: slow, not wrong.)
 */
import { MessagingError } from './errors.js';

/** What is listed: a KV bucket (`KV` of @nats-io/kv), or a stand-in in tests. */
export interface KeyLister {
  keys(filter?: string): Promise<AsyncIterable<string>>;
}

/** The keys of `kv` (those matching `filter`, a subject pattern, when given), each once, sorted. */
export async function listKeys(kv: KeyLister, what: string, filter?: string): Promise<string[]> {
  const keys = new Set<string>();
  try {
    for await (const key of await kv.keys(filter)) keys.add(key);
  } catch (err) {
    throw new MessagingError(`cannot list ${what}: ${(err as Error).message}`, { cause: err });
  }
  return [...keys].sort();
}
