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
  keys(filter?: string): Promise<AsyncIterable<string> & { stop?(): void }>;
}

/**
 * How long one listing may take before it is stopped and tried again. A listing that a write
 * interrupted can wait for the consumer's idle heartbeat (~30 s) or, seen once under load, not
 * end at all; callers (a rollout pass, `ferry sites`) must not wait on it forever.
 * @default 10 s
 */
export const LIST_KEYS_TIMEOUT_MS = 10_000;

/** The keys of `kv` (those matching `filter`, a subject pattern, when given), each once, sorted. */
export async function listKeys(
  kv: KeyLister,
  what: string,
  filter?: string,
  timeoutMs = LIST_KEYS_TIMEOUT_MS,
): Promise<string[]> {
  for (let attempt = 1; ; attempt++) {
    const keys = await listOnce(kv, what, filter, timeoutMs);
    if (keys) return keys;
    if (attempt >= 2) {
      throw new MessagingError(`cannot list ${what}: no answer within ${timeoutMs} ms, twice`, { retryable: true });
    }
  }
}

/** One listing; undefined when it did not end in time (it is stopped then). */
async function listOnce(
  kv: KeyLister,
  what: string,
  filter: string | undefined,
  timeoutMs: number,
): Promise<string[] | undefined> {
  const keys = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  try {
    const iter = await kv.keys(filter);
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    // Settles as a value either way, so a listing given up on cannot reject unseen later.
    const listed = (async () => {
      for await (const key of iter) keys.add(key);
    })().then(
      () => 'done' as const,
      (err: unknown) => ({ err }),
    );
    const end = await Promise.race([listed, timedOut]);
    if (end === 'timeout') {
      iter.stop?.();
      return undefined;
    }
    if (end !== 'done') throw end.err;
  } catch (err) {
    throw new MessagingError(`cannot list ${what}: ${(err as Error).message}`, { cause: err });
  } finally {
    clearTimeout(timer);
  }
  return [...keys].sort();
}
