import { createRequire } from 'node:module';

/** Reported in heartbeats and status records: the package's own version, written once in package.json. */
export const AGENT_VERSION: string = (createRequire(import.meta.url)('../../package.json') as { version: string })
  .version;
