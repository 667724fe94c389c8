/**
 * The `ferry` command line: builds the commander program and calls into the modules. `runCli`
 * runs it in-process and returns the exit code: 0 ok, 1 a FerryError (one line `ferry: <message>`
 * on stderr, no stack), 2 a usage error.
 */
import { createRequire } from 'node:module';
import type { Writable } from 'node:stream';
import { describeError, FerryError, loadCoordinatorConfig, parseImageRef, writeKeyPair } from '@ferry/shared';
import { Command, CommanderError, Option } from 'commander';
import { type CoordinatorContext, defaultConfigFile, openContextFromFile } from '../coordinator-context.js';
import { runCoordinator } from '../coordinator-daemon.js';
import { exitCodeOf, ResignIncompleteError, StatusFilterError, UsageError } from '../errors.js';
import { republishImage } from '../publish/republish-image.js';
import { formatResign, resignImages } from '../publish/resign-images.js';
import { retireImage } from '../publish/retire-image.js';
import { addRolloutCommands, resumeRolloutCommand } from '../rollout/rollout-cli.js';
import { checkSites, knownSites } from '../sites/known-sites.js';
import { removeSite } from '../sites/remove-site.js';
import { requestReconcile } from '../sites/request-reconcile.js';
import { setSiteSuspended } from '../sites/site-control.js';
import { buildStatusMatrix, type StatusFilter, unknownFilterReason } from '../status/status-matrix.js';
import { readStatusInput } from '../status/status-snapshot.js';
import { renderSitesTable, renderStatus } from '../status/status-table.js';
import { type CommandHelpers, collect } from './cli-helpers.js';
import { formatReconcile, formatRepublish, formatRetire, formatSiteControl, formatSiteRemoved } from './cli-output.js';
import { addPublishCommand } from './publish-cli.js';

export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  env?: NodeJS.ProcessEnv;
  /** Ends `status --watch` and `coordinator` (besides SIGINT/SIGTERM). */
  signal?: AbortSignal;
}

/** The package's own version (dist/cli/ → the package root). */
const VERSION: string = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

interface SiteControlOptions {
  site?: string;
  reason?: string;
  force?: boolean;
  json?: boolean;
  config: string;
}

/** The whole `ferry` program; exported so tests can dry-parse documented command lines. */
export function buildProgram(io: CliIo, env: NodeJS.ProcessEnv): Command {
  const out = (text: string): void => {
    io.stdout.write(text);
  };
  const json = (value: unknown): void => {
    io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  };
  const configOption = () =>
    new Option('-c, --config <file>', 'coordinator config (YAML); default $FERRY_CONFIG or ./ferry.yaml').default(
      defaultConfigFile(env),
    );

  /** Opens NATS, topology and store for one command, and always closes them. */
  async function withContext<T>(configFile: string, fn: (ctx: CoordinatorContext) => Promise<T>): Promise<T> {
    const ctx = await openContextFromFile(configFile, env);
    try {
      return await fn(ctx);
    } finally {
      await ctx.close();
    }
  }

  /** A result on stdout: as JSON with --json, else as `format` writes it. */
  const show = <T>(value: T, asJson: boolean | undefined, format: (value: T) => string) =>
    asJson ? json(value) : out(format(value));

  const helpers: CommandHelpers = {
    withContext,
    out,
    json,
    configOption,
    stdout: io.stdout,
    stderr: io.stderr,
    signal: io.signal,
  };

  const program = new Command('ferry')
    .description('Publish VM images (OVA) to vSphere Content Libraries in every site')
    .version(VERSION, '-V, --version')
    // Program options only before the command: `ferry publish --version 1.0` is the image version.
    .enablePositionalOptions()
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(`ferry: ${s.replace(/^error: /, '')}`),
    });

  program
    .command('keygen')
    .description('create an ed25519 signing key pair: <out>.key (0600) and <out>.pub')
    .requiredOption('--out <path>', 'path without extension, e.g. keys/release')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { out: string; json?: boolean }) => {
      const r = await writeKeyPair(opts.out);
      if (opts.json) return json(r);
      out(
        `key id       ${r.keyId}\nprivate key  ${r.privateKeyFile} (mode 0600: keep it secret; signing.privateKeyFile)\npublic key   ${r.publicKeyFile} (give it to every agent: trust.publicKeys)\n`,
      );
    });

  addPublishCommand(program, helpers);

  program
    .command('republish')
    .description('announce a published image again, to every site or to some')
    .argument('<image>', 'NAME@VERSION')
    .option('--site <site>', 'only this site (repeatable)', collect)
    .option(
      '--force',
      're-import even where the library already holds these bytes (and address sites that have not reported yet)',
    )
    .option('--json', 'print the events as JSON')
    .addOption(configOption())
    .action(async (ref: string, opts: { site?: string[]; force?: boolean; json?: boolean; config: string }) => {
      const force = opts.force ?? false;
      const r = await withContext(opts.config, (ctx) =>
        republishImage(ctx, { ref, sites: opts.site, force, allowUnknownSites: force }),
      );
      show(r, opts.json, formatRepublish);
    });

  program
    .command('status')
    .description('image × site matrix: state, progress, errors; sites and their last reconcile')
    .argument('[image]', 'NAME or NAME@VERSION')
    .option('--site <site>', 'only this site (repeatable)', collect)
    .option('--watch', 'redraw every second until Ctrl-C (into a pipe or file: one snapshot per second)')
    .option('--json', 'print the status document as JSON (shape documented in the README)')
    .addOption(configOption())
    .action(
      async (ref: string | undefined, opts: { site?: string[]; watch?: boolean; json?: boolean; config: string }) => {
        const filter: StatusFilter = { sites: opts.site };
        if (ref) Object.assign(filter, parseImageRef(ref));
        // Clear-screen codes only on a terminal; a pipe gets plain snapshots separated by a blank line.
        const clearScreen = (io.stdout as { isTTY?: boolean }).isTTY === true;
        await withContext(opts.config, async (ctx) => {
          let first = true;
          const draw = async () => {
            const now = new Date();
            const input = await readStatusInput(ctx);
            const unknown = unknownFilterReason(input, filter);
            if (unknown) throw new StatusFilterError(unknown);
            const matrix = buildStatusMatrix(input, now, filter);
            if (opts.json) io.stdout.write(`${JSON.stringify(matrix, null, opts.watch ? 0 : 2)}\n`);
            else if (!opts.watch) out(renderStatus(matrix, now));
            else if (clearScreen) out(`\x1b[2J\x1b[H${renderStatus(matrix, now)}`);
            else out(`${first ? '' : '\n'}${now.toISOString()}\n${renderStatus(matrix, now)}`);
            first = false;
          };
          if (!opts.watch) return draw();
          await watchLoop(io.signal, draw);
        });
      },
    );

  const sites = program
    .command('sites')
    .description('sites that run an agent: zone, last heartbeat, queue, suspended or stale')
    .option('--json', 'print { schema, generatedAt, sites } as JSON')
    .addOption(configOption())
    .action(async (opts: { json?: boolean; config: string }) => {
      await withContext(opts.config, async (ctx) => {
        const now = new Date();
        const matrix = buildStatusMatrix(await readStatusInput(ctx), now);
        if (opts.json) json({ schema: matrix.schema, generatedAt: matrix.generatedAt, sites: matrix.sites });
        else out(`${renderSitesTable(matrix, now)}\n`);
      });
    });
  sites
    .command('remove')
    .description('forget a decommissioned site: its heartbeat, control and status records')
    .argument('<site>', 'site id')
    .option('--force', 'remove it even though its agent still sends heartbeats')
    .option('--json', 'print what was removed as JSON')
    .addOption(configOption())
    .action(async (site: string, opts: { force?: boolean; json?: boolean; config: string }) => {
      const r = await withContext(opts.config, (ctx) => removeSite(ctx.topology, site, { force: opts.force }));
      show(r, opts.json, formatSiteRemoved);
    });

  program
    .command('retire')
    .description('retire a version: every site deletes it from its library')
    .argument('<image>', 'NAME@VERSION')
    .option('--json', 'print the retired manifest as JSON')
    .addOption(configOption())
    .action(async (ref: string, opts: { json?: boolean; config: string }) => {
      const r = await withContext(opts.config, (ctx) => retireImage(ctx, ref));
      if (opts.json) json(r.manifest);
      else out(formatRetire(r));
    });

  program
    .command('reconcile')
    .description('ask every agent (or some) to reconcile its library with the catalog now')
    .option('--site <site>', 'only this site (repeatable)', collect)
    .option('--force', 'address sites that have not reported yet')
    .option('--json', 'print the events as JSON')
    .addOption(configOption())
    .action(async (opts: { site?: string[]; force?: boolean; json?: boolean; config: string }) => {
      const events = await withContext(opts.config, (ctx) =>
        requestReconcile(ctx, opts.site ?? [], { force: opts.force }),
      );
      if (opts.json) json({ events });
      else out(formatReconcile(events));
    });

  for (const [name, suspended] of [
    ['suspend', true],
    ['resume', false],
  ] as const) {
    const command = program
      .command(name)
      .description(
        suspended
          ? "stop a site's agent from starting new downloads and imports"
          : "let a suspended site's agent work again (--site), or a halted rollout go on (NAME@VERSION)",
      );
    if (!suspended) command.argument('[image]', 'NAME@VERSION of a halted rollout');
    command
      .option('--site <site>', 'site id')
      .option('--reason <text>', 'why (shown to other operators)')
      .option('--force', 'address a site that has not reported yet')
      .option('--json', 'print the control record as JSON')
      .addOption(configOption())
      .action(async (...args: unknown[]) => {
        // Commander passes the [image] argument first when the command declares it.
        const ref = suspended ? undefined : (args[0] as string | undefined);
        const opts = args[suspended ? 0 : 1] as SiteControlOptions;
        if (ref && opts.site) throw new UsageError('give either NAME@VERSION or --site, not both');
        if (ref) return resumeRolloutCommand(helpers, ref, opts);
        if (!opts.site)
          throw new UsageError(`missing --site${suspended ? '' : ' (or NAME@VERSION of a halted rollout)'}`);
        const site = opts.site;
        await withContext(opts.config, async (ctx) => {
          const known = await knownSites(ctx.topology);
          checkSites([site], known, { force: opts.force });
          const control = await setSiteSuspended(ctx.topology.status, site, suspended, opts.reason);
          if (opts.json) json(control);
          else out(formatSiteControl(control, known.includes(control.site)));
        });
      });
  }

  addRolloutCommands(program, helpers);

  program
    .command('resign')
    .description('sign published manifests again with a new key (same bytes: sites re-import nothing)')
    .argument('[image]', 'NAME@VERSION (or --all)')
    .requiredOption('--key <file>', 'the new private key (from ferry keygen)')
    .option('--all', 'every manifest in the catalog, retired ones included')
    .option('--json', 'print the result as JSON')
    .addOption(configOption())
    .action(async (ref: string | undefined, opts: { key: string; all?: boolean; json?: boolean; config: string }) => {
      if (!ref === !opts.all) throw new UsageError('give either NAME@VERSION or --all');
      const r = await withContext(opts.config, (ctx) => resignImages(ctx, { keyFile: opts.key, ref, all: opts.all }));
      show(r, opts.json, formatResign);
      if (r.errors.length > 0) throw new ResignIncompleteError(r.errors.length);
    });

  program
    .command('coordinator')
    .description('run the coordinator daemon: store discovery, HTTP API, Artifactory webhook')
    .addOption(configOption())
    .action(async (opts: { config: string }) => {
      const config = await loadCoordinatorConfig(opts.config, env);
      await runCoordinator(config, { signal: io.signal });
    });

  return program;
}

/** Calls `draw` every second until SIGINT or the signal aborts. */
async function watchLoop(signal: AbortSignal | undefined, draw: () => Promise<void>): Promise<void> {
  let stop = false;
  let wake: () => void = () => undefined;
  const onStop = () => {
    stop = true;
    wake();
  };
  process.once('SIGINT', onStop);
  signal?.addEventListener('abort', onStop, { once: true });
  try {
    while (!stop && !signal?.aborted) {
      await draw();
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 1000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    process.off('SIGINT', onStop);
    signal?.removeEventListener('abort', onStop);
  }
}

/**
 * Runs `ferry` in-process and returns its exit code. `argv` is the arguments after the program
 * name (`['publish', 'x.ova', …]`); `process.argv` as a whole is recognised and accepted too.
 */
export async function runCli(
  argv: readonly string[],
  io: CliIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const env = io.env ?? process.env;
  const args = argv.length >= 2 && argv[0] === process.argv[0] && argv[1] === process.argv[1] ? argv.slice(2) : argv;
  const program = buildProgram(io, env);
  try {
    await program.parseAsync([...args], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander already printed its message (or the help / version).
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.exitCode === 0) return 0;
      return 2;
    }
    const message = err instanceof FerryError ? err.message : `internal error: ${describeError(err).message}`;
    io.stderr.write(`ferry: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
    if (!(err instanceof FerryError) && env.FERRY_DEBUG && err instanceof Error && err.stack) {
      io.stderr.write(`${err.stack}\n`);
    }
    return exitCodeOf(err);
  }
}
