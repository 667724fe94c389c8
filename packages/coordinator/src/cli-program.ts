/**
 * The `ferry` command line: builds the commander program and calls into the modules. `runCli`
 * runs it in-process and returns the exit code: 0 ok, 1 a FerryError (one line `ferry: <message>`
 * on stderr, no stack), 2 a usage error.
 */
import { basename } from 'node:path';
import type { Writable } from 'node:stream';
import {
  describeError,
  FerryError,
  loadCoordinatorConfig,
  parseImageRef,
  privateKeyModeProblem,
  writeKeyPair,
} from '@ferry/shared';
import { Command, CommanderError, Option } from 'commander';
import {
  formatPublish,
  formatReconcile,
  formatRepublish,
  formatRetire,
  formatSiteControl,
  formatSiteRemoved,
} from './cli-output.js';
import { type CoordinatorContext, defaultConfigFile, openContextFromFile } from './coordinator-context.js';
import { runCoordinator } from './coordinator-daemon.js';
import { exitCodeOf, StatusFilterError, UsageError } from './errors.js';
import { checkSites, knownSites } from './known-sites.js';
import { createProgress, noProgress } from './progress.js';
import { parseLabels, publishFile, publishFromStore, validatePublishOptions } from './publish-image.js';
import { removeSite } from './remove-site.js';
import { republishImage } from './republish-image.js';
import { requestReconcile } from './request-reconcile.js';
import { retireImage } from './retire-image.js';
import { setSiteSuspended } from './site-control.js';
import { buildStatusMatrix, type StatusFilter, unknownFilterReason } from './status-matrix.js';
import { readStatusInput } from './status-snapshot.js';
import { renderSitesTable, renderStatus } from './status-table.js';

export interface CliIo {
  stdout: Writable;
  stderr: Writable;
  env?: NodeJS.ProcessEnv;
  /** Ends `status --watch` and `coordinator` (besides SIGINT/SIGTERM). */
  signal?: AbortSignal;
}

const VERSION = '0.1.0';

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

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

  program
    .command('publish')
    .description('upload an OVA to the store and announce it (or register one already in the store)')
    .argument('[file]', 'the .ova file to upload')
    .requiredOption('--name <name>', 'image name, e.g. ubuntu-22.04: 1-128 of A-Z a-z 0-9 . _ + -')
    .requiredOption('--version <version>', 'image version, e.g. 1.2.3+build.7: 1-128 of A-Z a-z 0-9 . _ + -')
    .option('--target <selector>', 'site id, zone:<zone>, label:<k>=<v> or * (repeatable; default *)', collect)
    .option('--label <k=v>', 'label recorded in the manifest (repeatable)', collect)
    .option('--replace', 'replace the bytes of an already published name@version')
    .option('--from-store <path>', 'register an OVA that is already in the store at this path')
    .option('--json', 'print the manifest as JSON')
    .addOption(configOption())
    .action(
      async (
        file: string | undefined,
        opts: {
          name: string;
          version: string;
          target?: string[];
          label?: string[];
          replace?: boolean;
          fromStore?: string;
          json?: boolean;
          config: string;
        },
      ) => {
        if (file && opts.fromStore) throw new UsageError('give either FILE or --from-store PATH, not both');
        if (!file && !opts.fromStore) throw new UsageError('missing FILE (or --from-store PATH)');
        const base = {
          name: opts.name,
          version: opts.version,
          targets: opts.target,
          labels: parseLabels(opts.label ?? []),
          replace: opts.replace ?? false,
        };
        // Checks that need no config, NATS or store come first: nothing is written when they fail.
        validatePublishOptions(base);
        const result = await withContext(opts.config, async (ctx) => {
          // No signing block: publish fails below, before anything is read or written, saying so.
          const keyFile = ctx.config.signing?.privateKeyFile;
          const keyProblem = keyFile === undefined ? undefined : await privateKeyModeProblem(keyFile);
          if (keyProblem) io.stderr.write(`ferry: warning: ${keyProblem}\n`);
          if (opts.fromStore) return publishFromStore(ctx, { ...base, path: opts.fromStore });
          let progress = noProgress;
          // Ctrl-C / SIGTERM abort the upload and undo what was written, instead of exiting with a
          // half-finished multipart upload and an object discovery could announce.
          const stop = new AbortController();
          const onSignal = () => stop.abort();
          process.once('SIGINT', onSignal);
          process.once('SIGTERM', onSignal);
          io.signal?.addEventListener('abort', onSignal, { once: true });
          try {
            return await publishFile(ctx, {
              ...base,
              signal: stop.signal,
              file: file!,
              onProgress: (done, total) => {
                if (progress === noProgress && !opts.json) progress = createProgress(io.stdout, basename(file!), total);
                progress.update(done);
              },
            });
          } catch (err) {
            progress.fail();
            throw err;
          } finally {
            process.off('SIGINT', onSignal);
            process.off('SIGTERM', onSignal);
            io.signal?.removeEventListener('abort', onSignal);
            progress.stop();
          }
        });
        if (opts.json) json(result.manifest);
        else out(formatPublish(result));
      },
    );

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
      if (opts.json) json(r);
      else out(formatRepublish(r));
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
      if (opts.json) json(r);
      else out(formatSiteRemoved(r));
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
    program
      .command(name)
      .description(
        suspended
          ? "stop a site's agent from starting new downloads and imports"
          : "let a suspended site's agent work again",
      )
      .requiredOption('--site <site>', 'site id')
      .option('--reason <text>', 'why (shown to other operators)')
      .option('--force', 'address a site that has not reported yet')
      .option('--json', 'print the control record as JSON')
      .addOption(configOption())
      .action(async (opts: { site: string; reason?: string; force?: boolean; json?: boolean; config: string }) => {
        await withContext(opts.config, async (ctx) => {
          const known = await knownSites(ctx.topology);
          checkSites([opts.site], known, { force: opts.force });
          const control = await setSiteSuspended(ctx.topology.status, opts.site, suspended, opts.reason);
          if (opts.json) json(control);
          else out(formatSiteControl(control, known.includes(control.site)));
        });
      });
  }

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
