/**
 * What the profiles showed, for docs/benchmarks.md: printed under a scenario when one of its
 * targets is missed in the run (the numbers themselves come from the run).
 */
import type { ReportExtras } from './report.js';

export const SHORTFALLS: Record<string, string> = {
  download:
    "Why ferry is behind here: `curl | openssl` writes nothing to disk and hashes in a second process (a second core), while ferry writes every byte to its cache file and hashes it (SHA-256, ~0.6 s/GiB with SHA-NI) in the same node thread that parses the HTTP response, next to s3rver on a 2-core machine. A CPU profile of ferry's side (`pnpm exec tsx bench/profile.ts download`) after the fix below shows no ferry function of its own above 1 %: SHA-256 `update` ~30 % of the main thread, garbage collection ~20 % (node's HTTP client allocates a new 64 KiB buffer for every socket read), llhttp parsing ~6 %, the rest waiting for data. `rclone copy` also writes to disk (and checks MD5), but above 250 MiB it downloads in 4 parallel ranged streams with Go's multi-core runtime; ferry reads one stream in one node thread. What is left is mostly the price of a verified on-disk cache in one node thread; parallel ranged GETs (ferry already resumes with Range) would be the next step to match rclone, not a fix of waste.",
  import:
    "Why ferry is behind here: ferry reads the OVA through `OvaReader` and SHA-256-hashes every entry while it streams (that is how it proves each file against the `.mf` and the signed manifest before `complete`), and node encrypts TLS in the same thread; curl only encrypts, in its own process. The profile (`pnpm exec tsx bench/profile.ts import`) is dominated by SHA-256 `update` and TLS `writeBuffer` (encryption), with no stream or per-chunk overhead of ferry's own above 1 %; on 2 cores shared with vcsim (which decrypts and writes the same bytes) one thread doing both costs the difference. Skipping the per-entry hash would close it but drop a verification ferry promises.",
  e2e: 'One site is the download and the import one after the other (ferry never uploads from a partial download), so it inherits both gaps above; the 3-site case runs three agents, three vcsims and s3rver on 2 cores, where the transfers compete for CPU rather than for the network: on a machine with a core per agent the fan-out ratio is the one to watch.',
  memory:
    'The peak is node + the AWS SDK + got at rest plus a few MiB of stream buffers; it does not depend on the image size (the transfers stream and never buffer a file).',
  fanout:
    'Latency here is dominated by the KV put each site makes before it acks; with 100 sites on 2 cores the last ones wait for CPU.',
  reconcile:
    'A pass is one catalog read, one signature check per entry, and one item + file listing per library item (16 in parallel).',
};

export const FIXES: string[] = [
  '`packages/site-agent/src/download-cache.ts`: the download loop awaited one `fh.write()` per chunk read through the async iterator of the response, which concatenates whatever is buffered into a fresh buffer first (`fromList`/`Buffer.concat` in the profile, and ~38 % of the time in garbage collection). It now pipes the response into a `Writable` that writes each batch of chunks with one `writev` (no copies) while the socket keeps reading, and hashes a batch while the kernel writes it; `done` and the hash still count only bytes whose write completed, so in-place resume is unchanged. Same machine, 512 MiB, A/B alternating: 206–253 MiB/s and 6–7 CPU-s/GiB before, 260–477 MiB/s and 2–5.5 CPU-s/GiB after.',
];

export function extras(note?: string): ReportExtras {
  return { preface: note, shortfalls: SHORTFALLS, fixes: FIXES };
}
