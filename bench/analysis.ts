/**
 * What the profiles showed, for docs/benchmarks.md: printed under a scenario when one of its
 * targets is missed in the run (the numbers themselves come from the run).
 */
import type { ReportExtras } from './report.js';

export const SHORTFALLS: Record<string, string> = {
  download:
    "Why ferry is behind here: `curl | openssl` writes nothing to disk and hashes in a second process (a second core), while ferry writes every byte to its cache file, parses the HTTP response in one node thread and hashes the file (SHA-256, ~0.6 s/GiB with SHA-NI) in a worker thread that reads it back, next to s3rver on a 2-core machine. A CPU profile of ferry's side (`pnpm exec tsx bench/profile.ts download`) after the fix below shows no ferry function of its own above 1 %: SHA-256 `update` ~30 % of the main thread, garbage collection ~20 % (node's HTTP client allocates a new 64 KiB buffer for every socket read), llhttp parsing ~6 %, the rest waiting for data. `rclone copy` also writes to disk (and checks MD5), but above 250 MiB it downloads in 4 parallel ranged streams with Go's multi-core runtime; ferry reads one stream in one node thread. What is left is mostly the price of a verified on-disk cache in one node thread; parallel ranged GETs (ferry already resumes with Range) would be the next step to match rclone, not a fix of waste.",
  import:
    "Why ferry is behind here: ferry reads the OVA through `OvaReader` and SHA-256-hashes every entry while it streams (that is how it proves each file against the `.mf` and the signed manifest before `complete`), and node encrypts TLS in the same thread; curl only encrypts, in its own process. The profile (`pnpm exec tsx bench/profile.ts import`) is dominated by SHA-256 `update` and TLS `writeBuffer` (encryption), with no stream or per-chunk overhead of ferry's own above 1 %; on 2 cores shared with vcsim (which decrypts and writes the same bytes) one thread doing both costs the difference. Skipping the per-entry hash would close it but drop a verification ferry promises.",
  e2e: 'One site now imports while it downloads: the upload follows the cache file as it grows, so one pass costs about the slower link, and the plain tools\' "both at once" is the limit. What separates ferry from it is the per-byte work in one node thread: SHA-256 of the object (download) and of every OVA entry (import), TLS encryption to vCenter and HTTP parsing from the store, next to s3rver and vcsim on 2 cores; the plain tools spread the same work over four processes. The 3-site case runs three agents, three vcsims and s3rver on 2 cores, where the transfers compete for CPU rather than for the network.',
  publish:
    "s3rver assembles a multipart upload slowly (a single `curl -T` PUT is several times faster on it); 16 MiB × 4 and 64 MiB × 2 parts measured the same there, so the part size is chosen by real S3's and Artifactory's limits (see `partSizeFor` in packages/shared/src/stores/s3-store.ts). `ferry publish` also hashes the file and checks the OVA while it streams, and starts a node process.",
  memory:
    'The peak is node + the AWS SDK + got at rest plus a few MiB of stream buffers; it does not depend on the image size (the transfers stream and never buffer a file).',
  fanout:
    'Latency here is dominated by the KV put each site makes before it acks; with 100 sites on 2 cores the last ones wait for CPU.',
  reconcile:
    'A pass is one catalog read, one signature check per entry, and one item + file listing per library item (16 in parallel).',
};

export const FIXES: string[] = [
  '`packages/site-agent/src/transfer/download-cache.ts`: the download loop awaited one `fh.write()` per chunk read through the async iterator of the response, which concatenates whatever is buffered into a fresh buffer first (`fromList`/`Buffer.concat` in the profile, and ~38 % of the time in garbage collection). It now pipes the response into a `Writable` that writes each batch of chunks with one `writev` (no copies) while the socket keeps reading, and hashes a batch while the kernel writes it; `done` and the hash still count only bytes whose write completed, so in-place resume is unchanged. Same machine, 512 MiB, A/B alternating: 206–253 MiB/s and 6–7 CPU-s/GiB before, 260–477 MiB/s and 2–5.5 CPU-s/GiB after.',
];

/** Under the before/after table: what the one-pass change leaves, and where the time goes. */
export const WHAT_IS_LEFT =
  "What changed: the agent imports while it downloads (the OVA reader follows the growing cache file and nothing is completed in vCenter before the whole object's SHA-256 is proven), and the object's SHA-256 runs in a worker thread that reads the cache file back from the page cache, so the main thread no longer hashes the download. What is left, from the earlier profiles (`pnpm exec tsx bench/profile.ts download|import`, no ferry function of its own above 1 %): the main thread still SHA-256-hashes every OVA entry (the proof against the `.mf` and the signed file list), encrypts TLS to vCenter and parses HTTP from the store, and node's HTTP client allocates a 64 KiB buffer per socket read (GC). Parallel ranged GETs (as rclone does above 250 MiB) are not in this change. The worker's gain was not measured apart from the rest: this change was developed while the shared machine ran at a load of ~17 on 2 cores; on this machine s3rver and vcsim share the cores with the agent, so the ratios move with the load.";

export function extras(note?: string): ReportExtras {
  return { preface: note, shortfalls: SHORTFALLS, fixes: FIXES };
}
