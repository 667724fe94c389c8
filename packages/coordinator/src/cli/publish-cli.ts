/** `ferry publish`: upload (or register from the store), sign, announce, or start a rollout. */
import { basename } from 'node:path';
import { privateKeyModeProblem } from '@ferry/shared';
import type { Command } from 'commander';
import { UsageError } from '../errors.js';
import {
  type PublishDeps,
  type PublishFileOptions,
  type PublishResult,
  publishFile,
  publishFromStore,
  validatePublishOptions,
} from '../publish/publish-image.js';
import { formatRollout } from '../rollout/rollout-cli.js';
import { rolloutStatus } from '../rollout/rollout-commands.js';
import { rolloutDeps } from '../rollout/rollout-deps.js';
import { parseRolloutFlags, resolveRollout, rolloutHook } from '../rollout/rollout-start.js';
import { type CommandHelpers, collect } from './cli-helpers.js';
import { formatPublish } from './cli-output.js';
import { createProgress, noProgress } from './progress.js';

/** `k=v` pairs from the command line → a labels map. */
export function parseLabels(pairs: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`invalid --label ${JSON.stringify(pair)}: expected key=value`);
    const key = pair.slice(0, eq);
    if (!/^[A-Za-z0-9_./-]{1,128}$/.test(key)) {
      throw new UsageError(`invalid --label key ${JSON.stringify(key)}: use 1-128 of A-Z a-z 0-9 _ . / -`);
    }
    labels[key] = pair.slice(eq + 1);
  }
  return labels;
}

interface PublishCliOptions {
  name: string;
  version: string;
  target?: string[];
  label?: string[];
  replace?: boolean;
  fromStore?: string;
  wave?: string[];
  soak?: string;
  hold?: boolean;
  json?: boolean;
  config: string;
}

export function addPublishCommand(program: Command, h: CommandHelpers): void {
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
    .option('--wave <name=selectors>', 'roll out in waves: NAME=SELECTOR[,SELECTOR…] (repeatable, in order)', collect)
    .option('--soak <duration>', 'with --wave: wait this long after every site of a wave is ready (e.g. 30m)')
    .option('--hold', 'store and catalog the image, release no wave until ferry approve')
    .option('--json', 'print the manifest as JSON')
    .addOption(h.configOption())
    .action(async (file: string | undefined, opts: PublishCliOptions) => {
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
      const flags = parseRolloutFlags({ waves: opts.wave, soak: opts.soak, hold: opts.hold });
      const { result, rollout } = await h.withContext(opts.config, async (context) => {
        // No signing block: publish fails below, before anything is read or written, saying so.
        const keyFile = context.config.signing?.privateKeyFile;
        const keyProblem = keyFile === undefined ? undefined : await privateKeyModeProblem(keyFile);
        if (keyProblem) h.stderr.write(`ferry: warning: ${keyProblem}\n`);
        const deps = rolloutDeps(context);
        const hook = rolloutHook(deps, resolveRollout(context.config.rollout, flags));
        const ctx = hook ? { ...context, rollout: hook } : context;
        const r = opts.fromStore
          ? await publishFromStore(ctx, { ...base, path: opts.fromStore })
          : await publishWithProgress(h, ctx, { ...base, file: file! }, !opts.json);
        // A rollout announces instead of the `all` event: say where it stands.
        const started = hook && r.status === 'published';
        return {
          result: r,
          rollout: started ? await rolloutStatus(deps, `${r.manifest.name}@${r.manifest.version}`) : undefined,
        };
      });
      if (opts.json) h.json(result.manifest);
      else h.out(`${formatPublish(result)}${rollout ? formatRollout(rollout) : ''}`);
    });
}

/**
 * `publishFile` with a progress bar (unless `showProgress` is false). Ctrl-C / SIGTERM abort the
 * upload and undo what was written, instead of exiting with a half-finished multipart upload and
 * an object discovery could announce.
 */
async function publishWithProgress(
  h: CommandHelpers,
  deps: PublishDeps,
  options: Omit<PublishFileOptions, 'signal' | 'onProgress'>,
  showProgress: boolean,
): Promise<PublishResult> {
  let progress = noProgress;
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  h.signal?.addEventListener('abort', onSignal, { once: true });
  try {
    return await publishFile(deps, {
      ...options,
      signal: stop.signal,
      onProgress: (done, total) => {
        if (progress === noProgress && showProgress) progress = createProgress(h.stdout, basename(options.file), total);
        progress.update(done);
      },
    });
  } catch (err) {
    progress.fail();
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    h.signal?.removeEventListener('abort', onSignal);
    progress.stop();
  }
}
