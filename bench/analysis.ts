/**
 * What the profiles showed, for docs/benchmarks.md: printed under a scenario when one of its
 * targets is missed in the run (the numbers themselves come from the run).
 */
import type { ReportExtras } from './report.js';

export const SHORTFALLS: Record<string, string> = {
  download:
    "Why ferry is behind `curl | openssl` here: that pipe writes nothing, while ferry and rclone write every byte to disk. On this VM, writing into pages the file system has not used before runs at 0.4 GB/s (`dd` of 1 GiB into new files: 2.6–2.7 s each; into the pages of a file just deleted: 0.23 s), so a verified on-disk cache of 1 GiB costs ~2–3 s whatever writes it. ferry's own CPU for the download is now small: 0.8 CPU-s/GiB for receive, copy, write and the SHA-256 worker together (was 4.8), and it is ahead of rclone in the full run (2.50 s vs 2.94 s, the tools taking turns); in shorter runs the two were within ±20 % of each other either way, as the disk moved.",
  import:
    "Why ferry is behind `curl -T` here: ferry proves every OVA entry (SHA-256 against the `.mf` and the signed file list) while it sends, and curl only sends. The proof now runs in a worker thread and the main thread only moves bytes (0.35 CPU-s/GiB in the profile: TLS `writeBuffer` and the file read), but on 2 cores the worker (~1.0 s/GiB, of which SHA-256 is 0.54 s at SHA-NI speed and the rest the tar reader and its buffers) and vcsim (TLS and its own disk writes) share one core. `all sent` and the import's end coincide: the send, not the proof, finishes last; vcsim's receive speed moves by 2× between runs (its datastore writes meet the same new-page cost as the download). Skipping the per-entry hash would drop a verification ferry promises.",
  e2e: "One pass costs the slower link plus CPU: on this machine the slower link is the disk (the verified cache file; `curl | tee | openssl` pays the same, ~2.5–3 s for 1 GiB), and ferry's agent does more CPU work per byte than the plain tools: the object's SHA-256 and every entry's SHA-256 (two passes, in two worker threads, each reading the cache file back), TLS to vCenter, and the file write, next to s3rver and vcsim on 2 cores. The 3-site case runs three agents (each downloads; one store, three zones), three vcsims and s3rver on 2 cores, where the transfers compete for CPU, not for the network.",
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
  'The root cause of most of the gap was garbage collection of the bytes themselves: on Node 20 every chunk of an `http` response is a new 64 KiB ArrayBuffer, and that churn triggered a mark-compact every few MB (`node --trace-gc`: 563 mark-compacts while reading 3 GiB; 3.8–4.9 CPU-s to receive 1 GiB from s3rver into a sink that drops it, 2.8–3.6 s wall). Allocating fresh 1 or 4 MiB buffers per MiB cost the same (1.5 CPU-s/GiB). Reading into one reused buffer (`net`/`tls` `onread`) took 0.25 CPU-s and 1.0–1.2 s. So no byte ferry moves allocates memory any more:',
  "`packages/shared/src/stores/http-get.ts`: a plain HTTP/1.1 GET (Content-Length bodies, 200/206, redirects that drop credentials on another origin) whose body is read into one reused 1 MiB buffer and handed synchronously to a sink. Stores that speak HTTP say how to GET an object (`ObjectStore.httpGet`: S3 presigns it with the SDK's own credential chain, Artifactory adds its token) and map its errors to their own (`NotFoundError`, `StoreError` with `retryable`); the local directory store keeps its stream, and a chunked answer falls back to the store's stream. Download alone: 268 MiB/s (two-pass) and 200 MiB/s (one pass, streams) → 410 MiB/s in the full run; 4.8 → 0.8 CPU-s/GiB.",
  "`packages/site-agent/src/transfer/batch-file-sink.ts`: the cache writer takes bytes synchronously (`take`), copying them into four reused 1 MiB buffers written at their own file positions, several at a time (this VM's new-page writes stall now and then; one write at a time followed each stall). `onWritten` still reports bytes in file order, so an in-place resume starts exactly after them.",
  "`packages/site-agent/src/transfer/ova-prover.ts` and `image-importer.ts`: the import no longer streams the OVA through the tar reader on the main thread. A worker runs the same `OvaReader` over the growing cache file and reports each entry (with the exact offset of its bytes, found by walking the tar headers, pax ones included) and then the proof of all of them; the main thread sends each entry's byte range from the cache file through two reused 1 MiB buffers, each filled again only once the socket has taken it (`UploadBody` pump in `vcenter-session.ts`). Nothing is completed before the worker's proof and the whole object's SHA-256. Import upload phase: 2.56 s → 1.29 s per GiB in the full run; the main thread is ~70 % idle in the profile.",
  'The worker imports only the built reader (`@ferry/shared/ova-reader`): loading the whole package cost ~0.25 s per import.',
  'Tried and not kept: a larger young generation for the prover worker (16/64/256 MiB: no change), reading ahead in the worker with asynchronous reads (no change), 4 MiB instead of 1 MiB buffers for sending, writing and proving (within the noise of the speed, and 20 MB more peak RSS: 211 MB).',
];

/** Under the before/after table: what the data-path changes leave, and where the time goes. */
export const WHAT_IS_LEFT =
  "What changed in the third session: no byte ferry moves allocates memory (a plain HTTP GET into one reused buffer, a cache writer with reused buffers, sends from reused buffers), and the OVA's per-entry proof moved to a worker that reads the cache file back. What is left, measured: on this VM a new page of file cache costs ~2.5 ns per byte (0.4 GB/s), so any verified on-disk copy of 1 GiB takes 2–3 s, for ferry, rclone and `tee` alike; `curl | openssl` writes nothing and stays ahead of every tool that writes. The agent still does two SHA-256 passes (the object, for the cache; every entry, for the OVA proof) where the plain tools do one, and three reads of the cache file (hash, proof, send), on 2 cores shared with s3rver and vcsim. Next steps, in order of what they would save: one reader and hasher per image for the whole zone (today each target proves the entries again), hashing the object in the prover's pass, and parallel ranged GETs for stores that are faster per connection than per disk.";

export function extras(note?: string): ReportExtras {
  return { preface: note, shortfalls: SHORTFALLS, fixes: FIXES };
}
