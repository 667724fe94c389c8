/** Renders a run's results as docs/benchmarks.md. */
import type { BeforeAfterRow } from './before-after.js';
import type { BenchResults } from './run.js';

function table(head: string[], rows: Array<Array<string | number>>): string {
  const esc = (c: string | number) => String(c).replaceAll('|', '\\|');
  return [
    `| ${head.map(esc).join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
  ].join('\n');
}

export interface ReportExtras {
  /** Free text after the summary (e.g. "numbers taken while other work ran"). */
  preface?: string;
  /** Per-scenario explanations of shortfalls, by scenario id. */
  shortfalls?: Record<string, string>;
  /** Fixes made in ferry because of a profile. */
  fixes?: string[];
  /** The Done-when ratios, this run beside the last run before the change. */
  beforeAfter?: {
    beforeDate: string | undefined;
    streamsDate: string | undefined;
    reusedDate: string | undefined;
    tarWalkDate: string | undefined;
    rows: BeforeAfterRow[];
    left?: string;
  };
}

export function renderMarkdown(r: BenchResults, extras: ReportExtras = {}): string {
  const out: string[] = [];
  out.push('# Benchmarks');
  out.push('');
  out.push(
    'ferry side by side with plain tools, on the same data and the same servers, all on loopback: s3rver in its own node process, vcsim (govmomi) and nats-server as their own processes. Written by `pnpm bench` (`bench/run.ts`); the machine-readable results of every run are in `bench/results/` (`latest.json` is this page). `pnpm bench:quick` runs small sizes as a regression guard (exit 1 when ferry is below 0.5× any baseline) and does not touch this page.',
  );
  out.push('');
  out.push(`Run ${r.date} (${r.mode}), ${r.durationSec} s in all.`);
  out.push('');
  out.push(
    table(
      ['machine', ''],
      [
        ['CPU', r.machine.cpuModel],
        ['nproc', r.machine.nproc],
        ['memory', r.machine.memory],
        ['kernel', r.machine.kernel],
      ],
    ),
  );
  out.push('');
  out.push(table(['tool', 'version'], Object.entries(r.versions)));
  out.push('');
  if (extras.preface) {
    out.push(extras.preface);
    out.push('');
  }

  out.push('## Targets');
  out.push('');
  const targets = r.scenarios.flatMap((s) => s.targets);
  out.push(
    table(
      ['measurement', 'target', 'result', ''],
      targets.map((t) => [t.name, t.target, t.value, t.met ? 'met' : '**missed**']),
    ),
  );
  out.push('');
  const missed = targets.filter((t) => !t.met);
  if (missed.length) {
    out.push(`ferry falls short on ${missed.length} of ${targets.length}: ${missed.map((t) => t.name).join('; ')}.`);
  } else {
    out.push('ferry meets every target in this run.');
  }
  out.push('');

  if (extras.beforeAfter) {
    const ba = extras.beforeAfter;
    out.push('## Before and after: one pass from store to Content Library');
    out.push('');
    out.push(
      `"Before" is the last full run before the agent imported while downloading (${ba.beforeDate ?? 'not found'}, kept in \`bench/results/before-one-pass.json\`); "one pass, streams" the first full run of the one-pass design, whose bytes went through node streams (${ba.streamsDate ?? 'not found'}, \`bench/results/one-pass-streams.json\`); "reused buffers" the third session's last full run, with no allocation per byte moved and the OVA proof in a worker that streamed the file through the tar reader (${ba.reusedDate ?? 'not found'}, \`bench/results/one-pass-reused-buffers.json\`); "tar walk" the fourth session's last full run, with the prover walking the tar itself and the download hashed from its write buffers (${ba.tarWalkDate ?? 'not found'}, \`bench/results/one-pass-tar-walk.json\`); "after" is this run. Ratios of time are ferry ÷ the tool (lower is better); ratios of speed are ferry's speed ÷ the tool's (higher is better).`,
    );
    out.push('');
    out.push(
      table(
        ['measurement', 'target', 'before', 'one pass, streams', 'reused buffers', 'tar walk', 'after'],
        ba.rows.map((b) => [b.measurement, b.target, b.before, b.streams, b.reused, b.tarWalk, b.after]),
      ),
    );
    out.push('');
    if (ba.left) {
      out.push(ba.left);
      out.push('');
    }
  }

  for (const s of r.scenarios) {
    out.push(`## ${s.title}`);
    out.push('');
    for (const m of s.method) out.push(`- ${m}`);
    out.push('');
    out.push(table(s.table.head, s.table.rows));
    out.push('');
    for (const t of s.targets) {
      out.push(`Target: ${t.name} ${t.target} → ${t.value}, ${t.met ? 'met' : '**missed**'}.`);
      out.push('');
    }
    for (const n of s.notes) {
      out.push(n);
      out.push('');
    }
    const why = extras.shortfalls?.[s.id];
    if (why) {
      out.push(why);
      out.push('');
    }
  }
  if (extras.fixes?.length) {
    out.push('## Fixes made from profiles');
    out.push('');
    for (const f of extras.fixes) out.push(`- ${f}`);
    out.push('');
  }
  out.push('## Running it');
  out.push('');
  out.push('```sh');
  out.push(
    'pnpm bench                          # full sizes (~10 min on 2 cores): this page + bench/results/<date>.json',
  );
  out.push(
    'pnpm bench:quick                    # small sizes (~1 min): bench/results/quick-<date>.json, exit 1 below 0.5×',
  );
  out.push('pnpm exec tsx bench/run.ts --only download,import   # some scenarios (results/partial-*.json)');
  out.push("pnpm exec tsx bench/profile.ts download|import      # CPU profile of ferry's side only (bench/work/)");
  out.push("pnpm exec tsx bench/cpu.ts --size 256MiB             # CPU s/GiB of ferry's side and of the plain tools");
  out.push('```');
  out.push('');
  return out.join('\n');
}
