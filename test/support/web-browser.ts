/** Headless Chromium (Debian's `chromium`, driven by playwright-core) and a coordinator daemon for page tests. */
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type CoordinatorDaemon, startCoordinator } from '@ferry/coordinator';
import { loadCoordinatorConfig, silentLogger } from '@ferry/shared';
import { type Browser, chromium } from 'playwright-core';
import { writeCoordinatorConfig } from './coordinator-config.js';
import type { SiteWorld } from './site-world.js';

/** Debian's chromium from PATH; a clear error when it is missing. */
function chromiumPath(): string {
  try {
    return execFileSync('sh', ['-c', 'command -v chromium'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error(
      "chromium is not on PATH: install Debian's chromium (apt-get install chromium, or bash scripts/bootstrap.sh)",
    );
  }
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** The coordinator daemon with its HTTP API on a free loopback port; with `token`, the API needs it. */
export async function startPageDaemon(world: SiteWorld, token?: string): Promise<CoordinatorDaemon> {
  const http: Record<string, string> = { listen: '127.0.0.1:0' };
  if (token) {
    await writeFile(join(world.dir, 'api.token'), token);
    http.tokenFile = 'api.token';
  }
  const file = await writeCoordinatorConfig(world, { http, discovery: { enabled: false } });
  return startCoordinator(await loadCoordinatorConfig(file, {}), { logger: silentLogger(), discoverAtStart: false });
}
