/**
 * Every `ferry …` and `ferry-agent …` command line in README.md and docs/ parses with the real
 * commander programs (a dry parse: actions replaced by no-ops, nothing runs). Lines in code blocks
 * are complete commands; inline `ferry …` spans in prose are mentions, so a missing required
 * argument or option is accepted there, but an unknown command or option is not.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { buildProgram } from '@ferry/coordinator';
import { buildAgentProgram } from '@ferry/site-agent/internal';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/processes.js';

/** commander's Command (the root package does not depend on commander itself). */
type Command = ReturnType<typeof buildProgram>;

interface CommandLine {
  file: string;
  line: number;
  text: string;
  /** From a code block (a complete command) rather than an inline span (a mention). */
  complete: boolean;
}

/** Shell-like words: quotes group, placeholders and optional brackets are flattened. */
function words(text: string): string[] {
  const flat = text
    .replace(/\s#\s.*$/, '') // trailing comment
    .replace(/\.\.\./g, '')
    .replace(/[[\]]/g, '')
    .replace(/<([^>]+)>/g, '$1');
  return [...flat.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

function extractCommandLines(file: string, markdown: string): CommandLine[] {
  const out: CommandLine[] = [];
  let inCode = false;
  for (const [i, raw] of markdown.split('\n').entries()) {
    if (/^\s*```/.test(raw)) {
      inCode = !inCode;
      continue;
    }
    if (inCode) {
      const m = /^\s*(?:\$\s+)?((?:ferry|ferry-agent)(?:\s.*)?)$/.exec(raw);
      if (m) out.push({ file, line: i + 1, text: m[1]!, complete: true });
      continue;
    }
    for (const m of raw.matchAll(/`((?:ferry|ferry-agent) [^`]+)`/g)) {
      out.push({ file, line: i + 1, text: m[1]!, complete: false });
    }
  }
  return out;
}

/** No action runs; extra words are errors (an unknown command), output goes nowhere. */
function dryProgram(program: Command): Command {
  const quiet = { writeOut: () => undefined, writeErr: () => undefined };
  const walk = (cmd: Command) => {
    cmd
      .exitOverride()
      .configureOutput(quiet)
      .allowExcessArguments(false)
      .action(() => undefined);
    for (const sub of cmd.commands) walk(sub);
  };
  walk(program);
  return program;
}

const MENTION_OK = new Set(['commander.missingArgument', 'commander.missingMandatoryOptionValue']);

/** The parse error of a command line, or null when it parses. */
async function parseError(cl: CommandLine): Promise<string | null> {
  const [bin, ...args] = words(cl.text);
  const io = { stdout: new PassThrough(), stderr: new PassThrough() };
  const program = dryProgram(bin === 'ferry' ? buildProgram(io, {}) : buildAgentProgram(io));
  try {
    await program.parseAsync(args, { from: 'user' });
    return null;
  } catch (caught) {
    const err = caught as { code?: string; exitCode?: number; message: string };
    if (!err.code?.startsWith('commander.')) throw caught;
    if (err.exitCode === 0 || (!cl.complete && MENTION_OK.has(err.code))) return null;
    return `${err.code}: ${err.message}`;
  }
}

async function documents(): Promise<Array<{ file: string; text: string }>> {
  const docs = (await readdir(join(REPO_ROOT, 'docs'))).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`);
  return Promise.all(
    ['README.md', ...docs].map(async (file) => ({ file, text: await readFile(join(REPO_ROOT, file), 'utf8') })),
  );
}

describe('documented command lines', () => {
  it('extracts code-block lines and inline mentions, flattening placeholders', () => {
    const md = [
      'Run `ferry suspend --site <site>` first.',
      '```sh',
      'ferry status [NAME[@VERSION]] [--site S]... --json   # the matrix',
      '```',
    ].join('\n');
    const lines = extractCommandLines('x.md', md);
    expect(lines).toEqual([
      { file: 'x.md', line: 1, text: 'ferry suspend --site <site>', complete: false },
      {
        file: 'x.md',
        line: 3,
        text: 'ferry status [NAME[@VERSION]] [--site S]... --json   # the matrix',
        complete: true,
      },
    ]);
    expect(words(lines[1]!.text)).toEqual(['ferry', 'status', 'NAME@VERSION', '--site', 'S', '--json']);
  });

  it('a wrong command line is caught (the check can fail)', async () => {
    const bad = [
      { file: 'x', line: 1, text: 'ferry suspend dc1', complete: true },
      { file: 'x', line: 1, text: 'ferry status --sites dc1', complete: false },
      { file: 'x', line: 1, text: 'ferry-agent check --dryrun', complete: true },
      { file: 'x', line: 1, text: 'ferry frobnicate', complete: false },
    ];
    for (const cl of bad) expect(await parseError(cl), cl.text).not.toBeNull();
  });

  it('every ferry and ferry-agent command line in README.md and docs/ parses', async () => {
    const all = (await documents()).flatMap((d) => extractCommandLines(d.file, d.text));
    expect(all.length).toBeGreaterThan(20);
    const failures: string[] = [];
    for (const cl of all) {
      const error = await parseError(cl);
      if (error) failures.push(`${cl.file}:${cl.line}: ${cl.text}\n    ${error}`);
    }
    expect(failures).toEqual([]);
  });
});
