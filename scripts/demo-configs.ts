/**
 * The demo's agent configs, written as an operator would: secrets in files next to them. A site
 * served alone gets the single-target form (`site` + `vsphere`); a zone agent serving several
 * vCenters gets `agent` + `targets`.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../test/world/ports.js';
import type { VcsimHandle } from '../test/world/vcsim.js';

export interface DemoSite {
  site: string;
  zone: string;
  labels: Record<string, string>;
  /** The agent that serves the site (a zone agent serves several). */
  agent: string;
}

export interface DemoAgent {
  agent: string;
  sites: DemoSite[];
  config: string;
  url: string;
}

/** The agents of `sites`, in order of first appearance. */
export function demoAgents(sites: readonly DemoSite[]): Array<{ agent: string; sites: DemoSite[] }> {
  const agents = new Map<string, DemoSite[]>();
  for (const s of sites) agents.set(s.agent, [...(agents.get(s.agent) ?? []), s]);
  return [...agents].map(([agent, list]) => ({ agent, sites: list }));
}

/** Writes one agent's config (and its vCenter password files); returns where it listens. */
export async function writeDemoAgentConfig(
  dir: string,
  agent: { agent: string; sites: DemoSite[] },
  ctx: { natsUrl: string; store: Record<string, unknown>; vcsims: Record<string, VcsimHandle> },
): Promise<DemoAgent> {
  const port = await freePort();
  const vsphere = async (site: string) => {
    const vc = ctx.vcsims[site]!;
    await writeFile(join(dir, `${site}.vcenter.pass`), vc.password, { mode: 0o600 });
    return {
      url: vc.url,
      username: vc.username,
      passwordFile: `${site}.vcenter.pass`,
      caFile: vc.caFile,
      library: 'golden-images',
      datastore: vc.datastoreId,
    };
  };
  const [first] = agent.sites;
  const where =
    agent.sites.length === 1
      ? { site: first!.site, labels: first!.labels, vsphere: await vsphere(first!.site) }
      : {
          agent: agent.agent,
          targets: await Promise.all(
            agent.sites.map(async (s) => ({ site: s.site, labels: s.labels, vsphere: await vsphere(s.site) })),
          ),
        };
  const config = join(dir, `${agent.agent}.yaml`);
  await writeFile(
    config,
    stringify({
      ...where,
      zone: first!.zone,
      nats: { servers: [ctx.natsUrl] },
      store: ctx.store,
      cache: { dir: join(dir, 'cache', agent.agent), maxBytes: '10GiB' },
      // A zone agent's caps hold for all its vCenters together.
      concurrency: { downloads: 2, imports: agent.sites.length },
      reconcile: { schedule: '*/15 * * * *', jitter: '30s' },
      trust: { publicKeys: ['keys/release.pub'] },
      http: { listen: `127.0.0.1:${port}` },
    }),
  );
  return { ...agent, config, url: `http://127.0.0.1:${port}` };
}
