import { readFile } from 'node:fs/promises';
import {
  type AgentConfig,
  Catalog,
  ConfigError,
  connectNats,
  createLogger,
  describeError,
  FerryError,
  formatBytes,
  fsReason,
  InvalidNameError,
  loadAgentConfig,
  openTopology,
  parseManifest,
  RolloutReader,
  verifyManifest,
} from '@ferry/shared';
import { Command, CommanderError } from 'commander';
import { CheckStage } from '../deploy-check/check-stage.js';
import { countActions, type ReconcileAction } from '../reconcile/reconcile-plan.js';
import { Reconciler } from '../reconcile/reconciler.js';
import { runChecks } from './agent-check.js';
import { createAgentRuntime, type TargetRuntime } from './agent-runtime.js';
import { SiteAgent } from './site-agent.js';
import { AGENT_VERSION } from './version.js';

/** `check` found a problem; the lines are already printed. */
class CheckFailed extends Error {}

/** The command line is wrong: exit 2, like commander's own parse errors. */
class AgentUsageError extends FerryError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

function defaultConfig(): string {
  return process.env.FERRY_AGENT_CONFIG ?? 'ferry-agent.yaml';
}

/** Runs `ferry-agent …`; returns the exit code. Errors print one line, never a stack trace. */
export async function runAgentCli(argv: readonly string[], io: Io = process): Promise<number> {
  const program = buildAgentProgram(io);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof CheckFailed) return 1;
    const message = err instanceof FerryError ? err.message : `internal error: ${describeError(err).message}`;
    io.stderr.write(`ferry-agent: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
    if (!(err instanceof FerryError) && process.env.FERRY_DEBUG && err instanceof Error && err.stack) {
      io.stderr.write(`${err.stack}\n`);
    }
    return err instanceof AgentUsageError || err instanceof InvalidNameError ? 2 : 1;
  }
}

/** The whole `ferry-agent` program; exported so tests can dry-parse documented command lines. */
export function buildAgentProgram(io: Io): Command {
  const out = (line: string) => io.stdout.write(`${line}\n`);
  const program = new Command('ferry-agent')
    .description('ferry site agent: imports signed OVA images into this zone’s vSphere Content Library')
    .version(AGENT_VERSION)
    .enablePositionalOptions()
    .showSuggestionAfterError(true)
    // Extra words reach the action, which names them as an unknown command (not "too many arguments").
    .allowExcessArguments(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(`ferry-agent: ${s.replace(/^error: /, '')}`),
    })
    .addHelpText(
      'after',
      `
With no command, ferry-agent runs the agent daemon (until SIGTERM or Ctrl-C) with the config
given by --config, else $FERRY_AGENT_CONFIG, else ./ferry-agent.yaml. Logs (JSON lines) go to
stderr; command results go to stdout. Exit codes: 0 ok, 1 failure, 2 wrong command line.`,
    );

  program
    .option(
      '-c, --config <file>',
      'agent config (YAML); default $FERRY_AGENT_CONFIG or ./ferry-agent.yaml',
      defaultConfig(),
    )
    .action(async (opts: { config: string }, cmd: Command) => {
      if (cmd.args.length > 0) {
        const known = program.commands.map((c) => c.name()).join(', ');
        throw new AgentUsageError(`unknown command '${cmd.args[0]}' (commands: ${known}; see: ferry-agent --help)`);
      }
      const config = await loadAgentConfig(opts.config);
      // A zone agent's records name the agent; each target's add their site (targetLogger).
      const log = createLogger({ level: config.log.level, name: 'ferry-agent' }).child(
        config.targets.length === 1 ? { site: config.site } : { agent: config.agent },
      );
      const agent = new SiteAgent(await createAgentRuntime(config, log));
      let signals = 0;
      const onSignal = (signal: string) => {
        signals++;
        if (signals === 1) {
          log.info({ signal }, 'shutting down (send again to stop at once)');
          agent.stop().then(() => process.exit(0));
        } else {
          log.warn({ signal }, 'stopping now');
          agent.abort();
          setTimeout(() => process.exit(0), 2_000).unref();
        }
      };
      process.on('SIGTERM', onSignal);
      process.on('SIGINT', onSignal);
      // The agent logs "agent ready" itself, once its checks pass (see its heartbeat).
      await agent.start();
      await new Promise<never>(() => {});
    });

  program
    .command('check')
    .description('validate the config and try NATS, the store and the vCenter; exit 1 if anything fails')
    .requiredOption('-c, --config <file>', 'agent config (YAML)', defaultConfig())
    .action(async (opts: { config: string }) => {
      let config: Awaited<ReturnType<typeof loadAgentConfig>>;
      try {
        config = await loadAgentConfig(opts.config);
        out(`OK    config   ${opts.config}`);
      } catch (err) {
        out(`FAIL  config   ${(err as Error).message}`);
        throw new CheckFailed();
      }
      const results = await runChecks(config);
      for (const r of results) out(`${r.ok ? 'OK  ' : 'FAIL'}  ${r.name.padEnd(8)} ${r.message}`);
      if (results.some((r) => !r.ok)) throw new CheckFailed();
    });

  program
    .command('reconcile')
    .description('one reconcile pass for this site now: --dry-run prints the plan without acting')
    .requiredOption('-c, --config <file>', 'agent config (YAML)', defaultConfig())
    .option('--site <site>', 'the target to reconcile (a zone config with several targets needs it)')
    .option('--dry-run', 'print what the pass would do, change nothing')
    .option('--json', 'print the plan as JSON')
    .action(async (opts: { config: string; site?: string; dryRun?: boolean; json?: boolean }) => {
      const loaded = await loadAgentConfig(opts.config);
      const site = pickSite(loaded, opts.site);
      const log = createLogger({ level: process.env.FERRY_LOG_LEVEL ?? 'warn', name: 'ferry-agent' }).child({ site });
      const rt = await createAgentRuntime(loaded, log);
      const target = rt.targets.find((t) => t.config.site === site)!;
      const config = { ...loaded, site, vsphere: target.config.vsphere, labels: target.config.labels };
      const nc = await connectNats(config.nats, {
        name: `ferry-agent reconcile ${config.site}`,
        reconnectForever: false,
      });
      try {
        const topology = await openTopology(nc);
        const reconciler = new Reconciler({
          site: target.identity,
          catalog: new Catalog(topology.catalog),
          // A one-off pass honours rollouts as the daemon does: a held wave is not imported.
          rollouts: topology.rollouts ? new RolloutReader(topology.rollouts) : undefined,
          trusted: rt.trusted,
          library: target.library,
          libraryId: (refresh) => target.libraryId(refresh),
          itemName: (m) => target.importer.itemName(m),
          keepVersions: config.retention.keepVersions,
          prune: config.reconcile.prune,
          log,
        });
        const actions = await reconciler.plan();
        if (opts.json) {
          out(JSON.stringify(actions.map(describeAction)));
        } else {
          const c = countActions(actions);
          out(
            `reconcile plan for ${config.site} (library ${config.vsphere.library}): ${c.import} import, ${c.reimport} reimport, ${c.delete} delete, ${c.keep} keep, ${c.ignore} ignored`,
          );
          for (const a of actions.filter((x) => x.kind !== 'keep')) {
            const d = describeAction(a);
            out(`  ${d.action.padEnd(9)} ${d.target.padEnd(36)} ${d.reason}`);
          }
        }
        if (opts.dryRun) return;
        await rt.cache.init();
        for (const a of actions) {
          if (a.kind === 'import' || a.kind === 'reimport') {
            const r = await target.jobImporter.import({ manifest: a.manifest, force: a.kind === 'reimport' });
            const check = await oneShotCheck(target).run(a.manifest, r, new AbortController().signal, log);
            out(`imported ${a.manifest.name}@${a.manifest.version} as ${r.itemName}${checkNote(check)}`);
          } else if (a.kind === 'delete') {
            await target.library.deleteItem(a.itemId);
            out(`deleted ${a.itemName} (${a.reason})`);
          }
        }
      } finally {
        for (const t of rt.targets) {
          await t.library.logout(); // best effort: logs and never throws
          await t.deployCheck?.close(); // the same
        }
        await nc.close();
      }
    });

  program
    .command('import')
    .description('import one image now, from a signed manifest file (no daemon needed)')
    .requiredOption('-c, --config <file>', 'agent config (YAML)', defaultConfig())
    .requiredOption('-m, --manifest <file>', 'signed manifest JSON (e.g. the .manifest.json sidecar)')
    .option('--site <site>', 'the target to import into (a zone config with several targets needs it)')
    .option('--force', 're-import even when the library already holds this sha256')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { config: string; site?: string; manifest: string; force?: boolean; json?: boolean }) => {
      const loaded = await loadAgentConfig(opts.config);
      const site = pickSite(loaded, opts.site);
      // The manifest file first: a wrong path is reported before anything is opened.
      const manifest = parseManifest(await readManifestFile(opts.manifest));
      const log = createLogger({ level: process.env.FERRY_LOG_LEVEL ?? 'warn', name: 'ferry-agent' }).child({ site });
      const rt = await createAgentRuntime(loaded, log);
      const target = rt.targets.find((t) => t.config.site === site)!;
      const config = { ...loaded, vsphere: target.config.vsphere };
      verifyManifest(manifest, rt.trusted);
      await rt.cache.init();
      let lastLine = '';
      const result = await target.jobImporter.import({
        manifest,
        force: opts.force,
        onProgress: (p) => {
          if (opts.json) return;
          const pct = p.bytesTotal ? Math.floor((p.bytesDone / p.bytesTotal) * 10) * 10 : 100;
          const line = `${p.state} ${pct}%`;
          if (line !== lastLine) out(`${manifest.name}@${manifest.version}: ${line}`);
          lastLine = line;
        },
      });
      const check = await oneShotCheck(target).run(manifest, result, new AbortController().signal, log);
      for (const t of rt.targets) {
        await t.library.logout(); // best effort: logs and never throws
        await t.deployCheck?.close(); // the same
      }
      if (opts.json) {
        out(JSON.stringify(check ? { ...result, check } : result));
      } else if (result.skipped) {
        out(
          `${manifest.name}@${manifest.version}: already in library ${config.vsphere.library} as ${result.itemName} (${result.itemId}); nothing to do`,
        );
      } else {
        out(
          `${manifest.name}@${manifest.version}: imported into library ${config.vsphere.library} as ${result.itemName} (${result.itemId}), ${formatBytes(result.bytesUploaded)} uploaded${checkNote(check)}`,
        );
      }
    });

  return program;
}

/** The target a one-shot command works on: `--site`, or the config's only one. */
function pickSite(config: AgentConfig, site: string | undefined): string {
  const sites = config.targets.map((t) => t.site);
  if (site === undefined) {
    if (sites.length === 1) return sites[0]!;
    throw new AgentUsageError(`${config.file} serves several sites (${sites.join(', ')}): give --site <site>`);
  }
  if (!sites.includes(site)) {
    throw new AgentUsageError(`--site ${site} is not a target of ${config.file} (its sites: ${sites.join(', ')})`);
  }
  return site;
}

/** `import --manifest FILE`: one line naming the file and what is wrong with it. */
async function readManifestFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`--manifest ${file} ${fsReason(err)}: give the path of a signed manifest JSON file`, file);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`--manifest ${file} is not valid JSON (${(err as Error).message})`, file);
  }
}

/**
 * The deploy check after a one-shot import (where enabled); a failure throws DEPLOY_CHECK_FAILED.
 * No status record is kept here (the daemon keeps those) and no leftovers are swept (a daemon
 * may be running a check of this site right now).
 */
function oneShotCheck(target: TargetRuntime): CheckStage {
  return new CheckStage({
    ...(target.deployCheck ? { checker: target.deployCheck } : {}),
    library: target.library,
    setStatus: async () => undefined,
  });
}

function checkNote(check: { durationMs: number; vm?: string } | undefined): string {
  return check ? `; deploy check passed (${check.vm ?? 'no VM'}, ${(check.durationMs / 1000).toFixed(1)} s)` : '';
}

function describeAction(a: ReconcileAction): { action: string; target: string; reason: string } {
  switch (a.kind) {
    case 'import':
    case 'reimport':
      return { action: a.kind, target: `${a.manifest.name}@${a.manifest.version}`, reason: a.reason };
    case 'keep':
      return { action: a.kind, target: `${a.manifest.name}@${a.manifest.version}`, reason: 'in sync' };
    case 'delete':
    case 'ignore':
      return { action: a.kind, target: a.itemName, reason: a.reason };
  }
}
