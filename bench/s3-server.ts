/**
 * s3rver in its own process for the benchmarks, so the S3 server never shares an event loop
 * with the code being measured. Prints its handle (endpoint, bucket, keys, dir) as one JSON
 * line on stdout, then serves until SIGTERM/SIGINT, when it stops and deletes its dir.
 *
 *   tsx bench/s3-server.ts
 */
import { startS3 } from '../test/world/s3.js';

const s3 = await startS3();
const { stop: _stop, restart: _restart, destroy, ...handle } = s3;
process.stdout.write(`${JSON.stringify(handle)}\n`);

let stopping = false;
const shutdown = () => {
  if (stopping) return;
  stopping = true;
  void destroy().finally(() => process.exit(0));
};
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
// The parent went away without a signal: stop too.
process.stdin.on('end', shutdown);
process.stdin.resume();
