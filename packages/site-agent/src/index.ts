/**
 * The site agent's public API: the zone daemon, its runtime and CLI, and the vCenter Content
 * Library client behind its interface. Tests and benchmarks import `@ferry/site-agent/internal`,
 * which adds the parts (cache, importer, job runner, planners) that are not a contract.
 */

export { type AgentRuntime, createAgentRuntime } from './runtime/agent-runtime.js';
export { buildAgentProgram, runAgentCli } from './runtime/cli.js';
export { SiteAgent, type SiteAgentOptions } from './runtime/site-agent.js';
export { AGENT_VERSION } from './runtime/version.js';
export type {
  ContentLibrary,
  LibraryFileInfo,
  LibraryItemInfo,
  LibraryUpdateSession,
  UpdateSessionInfo,
} from './vcenter/content-library.js';
export { ContentLibraryClient, type ContentLibraryClientOptions } from './vcenter/content-library-client.js';
