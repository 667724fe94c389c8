/**
 * deploy/container/Dockerfile cannot be built here (no Docker engine), so this parses it: every
 * instruction is one Docker knows, the stages are the ones described, the runtime runs as a
 * non-root user with a HEALTHCHECK, both binaries are on its PATH, and the build context
 * (Dockerfile.dockerignore) lets through every file the build copies.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEPLOY_DIR } from './nats-deploy.js';

const ROOT = join(DEPLOY_DIR, '..');
const DOCKERFILE = join(DEPLOY_DIR, 'container', 'Dockerfile');
const KNOWN = new Set([
  'FROM',
  'RUN',
  'CMD',
  'LABEL',
  'EXPOSE',
  'ENV',
  'ADD',
  'COPY',
  'ENTRYPOINT',
  'VOLUME',
  'USER',
  'WORKDIR',
  'ARG',
  'ONBUILD',
  'STOPSIGNAL',
  'HEALTHCHECK',
  'SHELL',
]);

interface Instruction {
  op: string;
  args: string;
}

function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw)) continue; // comments (and the syntax directive)
    const line = raw.replace(/\s+$/, '');
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    if (!full) continue;
    const m = /^(\S+)\s+([\s\S]*)$/.exec(full);
    if (!m) throw new Error(`not an instruction: ${full}`);
    out.push({ op: m[1]!.toUpperCase(), args: m[2]! });
  }
  expect(pending, 'no dangling line continuation').toBe('');
  return out;
}

const instructions = parseDockerfile(readFileSync(DOCKERFILE, 'utf8'));

function stages(): Array<{ from: string; name?: string; body: Instruction[] }> {
  const result: Array<{ from: string; name?: string; body: Instruction[] }> = [];
  for (const i of instructions) {
    if (i.op === 'FROM') {
      const [image, as, name] = i.args.split(/\s+/);
      result.push({ from: image!, name: as?.toUpperCase() === 'AS' ? name : undefined, body: [] });
    } else {
      result.at(-1)!.body.push(i);
    }
  }
  return result;
}

describe('deploy/container/Dockerfile', () => {
  it('has only known instructions, JSON exec forms that parse, and starts with FROM', () => {
    expect(instructions[0]!.op).toBe('FROM');
    for (const i of instructions) {
      expect(KNOWN.has(i.op), `unknown instruction ${i.op}`).toBe(true);
      if (/^(ENTRYPOINT|CMD)$/.test(i.op) || (i.op === 'HEALTHCHECK' && i.args.includes('CMD ['))) {
        const json = i.op === 'HEALTHCHECK' ? i.args.slice(i.args.indexOf('CMD [') + 4) : i.args;
        expect(() => JSON.parse(json), `${i.op} exec form`).not.toThrow();
      }
    }
  });

  it('builds with pnpm on node:20-bookworm-slim and ships production dependencies only', () => {
    const [build, runtime, ...rest] = stages();
    expect(rest).toEqual([]);
    expect(build!.from).toBe('node:20-bookworm-slim');
    expect(runtime!.from).toBe('node:20-bookworm-slim');
    const runs = build!.body.filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(runs.some((r) => /pnpm install --frozen-lockfile/.test(r))).toBe(true);
    expect(runs.some((r) => /pnpm .*--prod deploy/.test(r))).toBe(true);
    const copies = runtime!.body.filter((i) => i.op === 'COPY');
    expect(copies.map((c) => c.args)).toEqual([`--from=${build!.name} /out /app`]);
  });

  it('the runtime runs as a non-root user, with a HEALTHCHECK, SIGTERM and ferry-agent as entrypoint', () => {
    const runtime = stages().at(-1)!.body;
    const user = runtime.filter((i) => i.op === 'USER').at(-1)?.args;
    expect(user).toBeDefined();
    expect(user!.split(':')[0]).not.toMatch(/^(0|root)$/);
    expect(runtime.some((i) => i.op === 'HEALTHCHECK')).toBe(true);
    expect(runtime.find((i) => i.op === 'STOPSIGNAL')?.args).toBe('SIGTERM');
    expect(JSON.parse(runtime.find((i) => i.op === 'ENTRYPOINT')!.args)).toEqual(['ferry-agent']);
    const env = runtime
      .filter((i) => i.op === 'ENV')
      .map((i) => i.args)
      .join(' ');
    // pnpm deploy puts both bins in node_modules/.bin: `--entrypoint ferry` works.
    expect(env).toContain('PATH=/app/node_modules/.bin:$PATH');
    for (const [pkg, bin] of [
      ['site-agent', 'ferry-agent'],
      ['coordinator', 'ferry'],
    ]) {
      const json = JSON.parse(readFileSync(join(ROOT, 'packages', pkg!, 'package.json'), 'utf8'));
      expect(Object.keys(json.bin)).toContain(bin);
    }
  });

  it('every file the build copies exists and passes Dockerfile.dockerignore', () => {
    const ignore = readFileSync(join(DEPLOY_DIR, 'container', 'Dockerfile.dockerignore'), 'utf8')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(ignore[0]).toBe('**');
    const allowed = ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1));
    const passes = (path: string) =>
      allowed.some((a) => a === path || (a.endsWith('/**') && path.startsWith(a.slice(0, -2))));
    for (const copy of stages()[0]!.body.filter((i) => i.op === 'COPY')) {
      const parts = copy.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      for (const src of parts.slice(0, -1)) {
        expect(existsSync(join(ROOT, src)), `${src} exists`).toBe(true);
        expect(passes(src.replace(/\/$/, '')) || passes(`${src.replace(/\/$/, '')}/x`), `${src} in context`).toBe(true);
      }
    }
  });
});
