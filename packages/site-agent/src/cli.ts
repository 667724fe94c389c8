import { readFile } from 'node:fs/promises';
import { createLogger, FerryError, formatBytes, loadAgentConfig, parseManifest, verifyManifest } from '@ferry/shared';
import { Command, CommanderError } from 'commander';
import { createAgentRuntime } from './agent-runtime.js';
import { AGENT_VERSION } from './version.js';

interface Io {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

function defaultConfig(): string {
  return process.env.FERRY_AGENT_CONFIG ?? 'ferry-agent.yaml';
}

/** Runs `ferry-agent …`; returns the exit code. Errors print one line, never a stack trace. */
export async function runAgentCli(argv: readonly string[], io: Io = process): Promise<number> {
  const out = (line: string) => io.stdout.write(`${line}\n`);
  const program = new Command('ferry-agent')
    .description('ferry site agent: imports signed OVA images into this zone’s vSphere Content Library')
    .version(AGENT_VERSION)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });

  program
    .command('import')
    .description('import one image now, from a signed manifest file (no daemon needed)')
    .requiredOption('-c, --config <file>', 'agent config (YAML)', defaultConfig())
    .requiredOption('-m, --manifest <file>', 'signed manifest JSON (e.g. the .manifest.json sidecar)')
    .option('--force', 're-import even when the library already holds this sha256')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { config: string; manifest: string; force?: boolean; json?: boolean }) => {
      const config = await loadAgentConfig(opts.config);
      const log = createLogger({ level: process.env.FERRY_LOG_LEVEL ?? 'warn', name: 'ferry-agent' }).child({
        site: config.site,
      });
      const rt = await createAgentRuntime(config, log);
      const manifest = parseManifest(JSON.parse(await readFile(opts.manifest, 'utf8')));
      verifyManifest(manifest, rt.trusted);
      await rt.cache.init();
      let lastLine = '';
      const result = await rt.importer.import({
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
      await rt.library.logout().catch(() => {});
      if (opts.json) {
        out(JSON.stringify(result));
      } else if (result.skipped) {
        out(
          `${manifest.name}@${manifest.version}: already in library ${config.vsphere.library} as ${result.itemName} (${result.itemId}); nothing to do`,
        );
      } else {
        out(
          `${manifest.name}@${manifest.version}: imported into library ${config.vsphere.library} as ${result.itemName} (${result.itemId}), ${formatBytes(result.bytesUploaded)} uploaded`,
        );
      }
    });

  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof FerryError) {
      io.stderr.write(`ferry-agent: ${err.message}\n`);
      return 1;
    }
    if (err instanceof SyntaxError) {
      io.stderr.write(`ferry-agent: not valid JSON: ${err.message}\n`);
      return 1;
    }
    io.stderr.write(`ferry-agent: unexpected error: ${(err as Error).message ?? String(err)}\n`);
    return 1;
  }
}
