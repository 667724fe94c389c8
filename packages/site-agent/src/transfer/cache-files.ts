/** The files of the download cache: listing, LRU eviction, free space. */
import { readdir, rm, stat, statfs } from 'node:fs/promises';
import { join } from 'node:path';
import { CacheError, formatBytes, type Logger } from '@ferry/shared';

/** Evicts least-recently-used finished files that are not pinned until `needed` more bytes fit. */
export async function makeRoom(
  dir: string,
  maxBytes: number,
  needed: number,
  forSha: string,
  pinned: (sha256: string) => boolean,
  log: Logger,
): Promise<void> {
  const entries = await cacheEntries(dir);
  let used = entries.reduce((sum, e) => sum + e.size, 0);
  if (used + needed <= maxBytes) return;
  const candidates = entries
    .filter((e) => e.final && e.sha256 !== forSha && !pinned(e.sha256))
    .sort((a, b) => a.mtimeMs - b.mtimeMs);
  for (const e of candidates) {
    if (used + needed <= maxBytes) break;
    await rm(e.path, { force: true });
    used -= e.size;
    log.info({ evicted: e.sha256.slice(0, 12), bytes: e.size }, 'evicted from cache');
  }
  if (used + needed > maxBytes) {
    await rm(join(dir, `${forSha}.partial`), { force: true });
    throw new CacheError(
      dir,
      `cache full: need ${formatBytes(needed)} but ${formatBytes(Math.max(0, maxBytes - used))} of cache.maxBytes ${formatBytes(maxBytes)} is free after evicting unused files; raise cache.maxBytes`,
    );
  }
}

/** The cache's files: verified (`.ova`) and partial downloads, by sha256. */
export async function cacheEntries(
  dir: string,
): Promise<Array<{ path: string; sha256: string; size: number; mtimeMs: number; final: boolean }>> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const out = [];
  for (const name of names) {
    const m = /^([0-9a-f]{64})\.(ova|partial)$/.exec(name);
    if (!m) continue;
    const s = await stat(join(dir, name)).catch(() => undefined);
    if (s)
      out.push({
        path: join(dir, name),
        sha256: m[1]!,
        size: s.size,
        mtimeMs: s.mtimeMs,
        final: m[2] === 'ova',
      });
  }
  return out;
}

/** Bytes the cache may still take: the smaller of `maxBytes - used` and the filesystem's free space. */
export async function cacheFreeBytes(dir: string, maxBytes: number): Promise<number> {
  const used = (await cacheEntries(dir)).reduce((sum, e) => sum + e.size, 0);
  let fsFree = Number.POSITIVE_INFINITY;
  try {
    const s = await statfs(dir);
    fsFree = Number(s.bavail) * Number(s.bsize);
  } catch {
    // statfs unsupported: maxBytes alone.
  }
  return Math.max(0, Math.min(maxBytes - used, fsFree));
}

/** sha256 → holders; a held file is never evicted. */
export class Pins {
  readonly #count = new Map<string, number>();

  has(sha256: string): boolean {
    return this.#count.has(sha256);
  }

  /** Holds the file until the returned function is called (once; later calls do nothing). */
  hold(sha256: string): () => void {
    this.#count.set(sha256, (this.#count.get(sha256) ?? 0) + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const n = (this.#count.get(sha256) ?? 1) - 1;
      if (n <= 0) this.#count.delete(sha256);
      else this.#count.set(sha256, n);
    };
  }
}

/** A cache that cannot take the bytes (full, read-only, no permission) as one clear CacheError. */
export function cacheWriteError(dir: string, err: unknown, partial: string): CacheError | undefined {
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== 'ENOSPC' && code !== 'EACCES' && code !== 'EROFS' && code !== 'EDQUOT') return undefined;
  const why = code === 'ENOSPC' || code === 'EDQUOT' ? 'disk full' : 'not writable';
  return new CacheError(dir, `cannot write ${partial}: ${why} (${code}); free space or fix permissions of cache.dir`, {
    cause: err,
  });
}
