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

  program
    .command('approve')
    .description('approve a held rollout: its first wave is released')
    .argument('<image>', 'NAME@VERSION')
    .option('--note <text>', 'why it may go (e.g. "scan 4711 passed"), kept with the approval')
    .option('--json', 'print the rollout as JSON')
    .addOption(h.configOption())
    .action(async (ref: string, opts: { note?: string; json?: boolean; config: string }) => {
      const r = await h.withContext(opts.config, (ctx) =>
        approveRollout(rolloutDeps(ctx), ref, { by: osUser(), note: opts.note }),
      );
      print(r, opts.json);
    });

  program
    .command('promote')
    .description('release the next wave now, without waiting for readiness or soak')
    .argument('<image>', 'NAME@VERSION')
    .option('--json', 'print the rollout as JSON')
    .addOption(h.configOption())
    .action(async (ref: string, opts: { json?: boolean; config: string }) => {
      print(await h.withContext(opts.config, (ctx) => promoteRollout(rolloutDeps(ctx), ref, osUser())), opts.json);
    });

  program
    .command('halt')
    .description('stop a rollout: no further wave is released until ferry resume')
    .argument('<image>', 'NAME@VERSION')
    .option('--reason <text>', 'why (shown in status)')
    .option('--json', 'print the rollout as JSON')
    .addOption(h.configOption())
    .action(async (ref: string, opts: { reason?: string; json?: boolean; config: string }) => {
      const r = await h.withContext(opts.config, (ctx) =>
        haltRollout(rolloutDeps(ctx), ref, { by: osUser(), reason: opts.reason }),
      );
      print(r, opts.json);
    });
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
