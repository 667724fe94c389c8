/**
 * The example zone configs name secret files under /etc/ferry/… as an operator writes them. To
 * load them here, each config is copied with /etc/ferry/ pointing at a temp dir holding fake
 * secret files at the same relative paths; nothing else in the config changes.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DEPLOY_DIR } from './nats-deploy.js';

export const EXAMPLES_DIR = join(DEPLOY_DIR, 'examples');
export const EXAMPLE_AGENT_CONFIGS = ['dc1-corp', 'dc2-pci'] as const;
/** A zone agent with three targets (push, pull, subscribe). */
export const EXAMPLE_ZONE_CONFIG = 'dc3-corp-zone';

/** Copies `deploy/examples/<name>.yaml` with its secret files faked; returns the copy's path. */
export async function exampleWithSecrets(dir: string, name: string): Promise<string> {
  const text = await readFile(join(EXAMPLES_DIR, `${name}.yaml`), 'utf8');
  const root = join(dir, 'etc-ferry');
  for (const m of text.matchAll(/^\s*\w+File:\s*\/etc\/ferry\/(\S+)\s*$/gm)) {
    const path = join(root, m[1]!);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, `fake secret for ${m[1]}\n`, { mode: 0o600 });
  }
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, text.replaceAll('/etc/ferry/', `${root}/`));
  return file;
}

export async function withExampleSecrets(fn: (file: string, site: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-examples-'));
  try {
    for (const site of EXAMPLE_AGENT_CONFIGS) await fn(await exampleWithSecrets(dir, site), site);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
