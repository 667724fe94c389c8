/** The demo's command line: `--help` prints usage and exits 0; an unknown option exits 2. */
import { parseSize } from '@ferry/shared';

export const DEMO_USAGE = `usage: npm run demo -- [--keep] [--size SIZE] [--keep-files]

Starts, on loopback only: a NATS hub with one leaf node per site, s3rver, one vcsim per site,
the coordinator and three agents; publishes a sample OVA and shows it land in every site.

  --keep         leave everything running afterwards and print what to try; Ctrl-C stops it
  --size SIZE    size of the OVA's disk, e.g. 64MiB (default 300MiB)
  --keep-files   keep the work dir (configs, logs, the agents' caches) after stopping;
                 by default it is removed, also on Ctrl-C or SIGTERM
  --help         this text
`;

export interface DemoArgs {
  keep: boolean;
  keepFiles: boolean;
  diskSize: number;
}

export function parseDemoArgs(args: readonly string[]): DemoArgs {
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(DEMO_USAGE);
    process.exit(0);
  }
  const known = new Set(['--keep', '--keep-files', '--size']);
  const unknown = args.find((a, i) => a.startsWith('-') && !known.has(a) && args[i - 1] !== '--size');
  if (unknown) {
    process.stderr.write(`demo: unknown option ${unknown}\n${DEMO_USAGE}`);
    process.exit(2);
  }
  const sizeArg = args[args.indexOf('--size') + 1];
  const diskSize = args.includes('--size') && sizeArg ? parseSize(sizeArg) : 300 * 2 ** 20;
  if (diskSize === undefined) {
    process.stderr.write(`demo: --size ${sizeArg}: expected a size like 300MiB\n`);
    process.exit(2);
  }
  return { keep: args.includes('--keep'), keepFiles: args.includes('--keep-files'), diskSize };
}
