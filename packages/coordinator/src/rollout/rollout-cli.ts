/** `ferry rollout status | approve | promote | halt` (and `resume N@V`, registered with `resume --site`). */
import type { Command } from 'commander';
import type { CommandHelpers } from '../cli/cli-helpers.js';
import { renderColumns } from '../status/status-table.js';
import {
  approveRollout,
  haltRollout,
  osUser,
  promoteRollout,
  type RolloutResult,
  resumeRollout,
  rolloutStatus,
} from './rollout-commands.js';
import { rolloutDeps } from './rollout-deps.js';
import type { RolloutDriverDeps } from './rollout-driver.js';

export function formatRollout(r: RolloutResult): string {
  const { record, view } = r;
  const rows: string[][] = [
    ['  state', view.summary],
    ['  gate', record.gate],
  ];
  if (record.approval) {
    const note = record.approval.note ? ` (${record.approval.note})` : '';
    rows.push(['  approved', `by ${record.approval.by} at ${record.approval.at}${note}`]);
  }
  record.waves.forEach((w, i) => {
    const facts = [
      w.targets.join(' '),
      w.soakMs ? `soak ${Math.round(w.soakMs / 1000)}s` : '',
      w.releasedAt ? `released ${w.releasedAt}${w.promotedBy ? ` (promoted by ${w.promotedBy})` : ''}` : 'not released',
      w.sites?.length ? `sites ${w.sites.join(', ')}` : '',
      w.readyAt ? `ready ${w.readyAt}` : '',
    ].filter(Boolean);
    rows.push([`  wave ${i + 1} ${w.name}`, facts.join('; ')]);
  });
  if (record.halt) rows.push(['  halted', `${record.halt.at}: ${record.halt.reason}`]);
  if (record.doneAt) rows.push(['  done', record.doneAt]);
  if (r.next && (r.next.kind === 'wait' || r.next.kind === 'idle')) rows.push(['  next', r.next.reason]);
  return `rollout ${record.name}@${record.version} (sha256 ${record.sha256.slice(0, 12)}…)\n${renderColumns(rows)}\n`;
}

export function addRolloutCommands(program: Command, h: CommandHelpers): void {
  const print = (r: RolloutResult, asJson?: boolean) => (asJson ? h.json(r) : h.out(formatRollout(r)));

  program
    .command('rollout')
    .description('rollouts in waves')
    .command('status')
    .description("a rollout's gate, approval, waves, soak and halt reason")
    .argument('<image>', 'NAME@VERSION')
    .option('--json', 'print the rollout record and its summary as JSON')
    .addOption(h.configOption())
    .action(async (ref: string, opts: { json?: boolean; config: string }) => {
      print(await h.withContext(opts.config, (ctx) => rolloutStatus(rolloutDeps(ctx), ref)), opts.json);
    });

  /** A command that changes the rollout N@V, with an optional free-text option kept with the change. */
  const change = (
    name: string,
    description: string,
    text: [flags: string, help: string] | undefined,
    run: (deps: RolloutDriverDeps, ref: string, text: string | undefined) => Promise<RolloutResult>,
  ) => {
    const command = program.command(name).description(description).argument('<image>', 'NAME@VERSION');
    if (text) command.option(...text);
    command
      .option('--json', 'print the rollout as JSON')
      .addOption(h.configOption())
      .action(async (ref: string, opts: { note?: string; reason?: string; json?: boolean; config: string }) => {
        const text = opts.note ?? opts.reason;
        print(await h.withContext(opts.config, (ctx) => run(rolloutDeps(ctx), ref, text)), opts.json);
      });
  };
  change(
    'approve',
    'approve a held rollout: its first wave is released',
    ['--note <text>', 'why it may go (e.g. "scan 4711 passed"), kept with the approval'],
    (deps, ref, note) => approveRollout(deps, ref, { by: osUser(), note }),
  );
  change('promote', 'release the next wave now, without waiting for readiness or soak', undefined, (deps, ref) =>
    promoteRollout(deps, ref, osUser()),
  );
  change(
    'halt',
    'stop a rollout: no further wave is released until ferry resume',
    ['--reason <text>', 'why (shown in status)'],
    (deps, ref, reason) => haltRollout(deps, ref, { by: osUser(), reason }),
  );
}

/** `ferry resume N@V` (the `resume` command also takes `--site` for suspended sites). */
export async function resumeRolloutCommand(
  h: CommandHelpers,
  ref: string,
  opts: { json?: boolean; config: string },
): Promise<void> {
  const r = await h.withContext(opts.config, (ctx) => resumeRollout(rolloutDeps(ctx), ref));
  if (opts.json) h.json(r);
  else h.out(formatRollout(r));
}
