/**
 * A zone agent's `targets`: one Content Library in one vCenter each, with its own site id, and
 * the rules between them (either the single-target form or targets; unique sites; pull needs the
 * listener; a subscribe target follows an importing target of the same agent).
 */
import { z } from 'zod';
import { siteId, vsphereSchema } from './config-sections.js';
import { bandwidthConfigSchema, deployCheckConfigSchema } from './zone-parts-config.js';

/**
 * One Content Library in one vCenter served by a zone agent, with its own site id (a status
 * column). A `subscribe:` target is a subscribed library synced by vSphere from another target's.
 */
export const zoneTargetSchema = z
  .strictObject({
    site: siteId,
    /** Merged over the agent's labels (the target's win). @default {} */
    labels: z.record(z.string(), z.string()).default({}),
    vsphere: vsphereSchema,
    /** push: ferry uploads each file; pull: vCenter GETs it from the agent's `pull` listener. @default push */
    transfer: z.enum(['push', 'pull']).default('push'),
    concurrency: z
      .strictObject({
        /** Imports into this target at once (within the agent's `concurrency.imports`). @default the agent's */
        imports: z.number().int().min(1).max(64).optional(),
      })
      .optional(),
    bandwidth: bandwidthConfigSchema.optional(),
    /** Site id of another target whose library this one subscribes to (vSphere copies the items). */
    subscribe: siteId.optional(),
    deployCheck: deployCheckConfigSchema.optional(),
  })
  .superRefine((t, ctx) => {
    if (t.bandwidth?.store !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['bandwidth', 'store'],
        message: 'is agent-wide (one download serves every target): set bandwidth.store at the top level',
      });
    }
    if (t.subscribe !== undefined && t.transfer === 'pull') {
      ctx.addIssue({
        code: 'custom',
        path: ['transfer'],
        message: 'a subscribe target is filled by vSphere, not by a transfer: remove transfer: pull',
      });
    }
  });

/** Either the single-target form (`site` + `vsphere`) or `targets`, never both; targets refer to each other sanely. */
export function checkTargets(
  v: {
    site?: string;
    vsphere?: unknown;
    targets?: Array<{ site: string; subscribe?: string; transfer: string }>;
    pull?: unknown;
  },
  ctx: z.RefinementCtx,
): void {
  const issue = (path: PropertyKey[], message: string) => ctx.addIssue({ code: 'custom', path, message });
  if (v.targets === undefined) {
    if (v.site === undefined) issue(['site'], 'give site and vsphere (one vCenter) or targets (a zone agent)');
    if (v.vsphere === undefined) issue(['vsphere'], 'give site and vsphere (one vCenter) or targets (a zone agent)');
    return;
  }
  if (v.site !== undefined) issue(['site'], 'not with targets: each target has its own site (use agent: for the id)');
  if (v.vsphere !== undefined) issue(['vsphere'], 'not with targets: each target has its own vsphere block');
  const sites = new Map<string, { subscribe?: string; transfer: string }>();
  for (const [i, t] of v.targets.entries()) {
    if (sites.has(t.site))
      issue(['targets', i, 'site'], `${t.site} is listed twice: each target needs its own site id`);
    sites.set(t.site, t);
  }
  for (const [i, t] of v.targets.entries()) {
    if (t.transfer === 'pull' && v.pull === undefined) {
      issue(['targets', i, 'transfer'], 'pull needs the agent-level pull: { listen, url } block (the HTTPS listener)');
    }
    if (t.subscribe === undefined) continue;
    const source = sites.get(t.subscribe);
    if (t.subscribe === t.site) issue(['targets', i, 'subscribe'], 'a target cannot subscribe to itself');
    else if (!source)
      issue(['targets', i, 'subscribe'], `names no target of this agent (have ${[...sites.keys()].join(', ')})`);
    else if (source.subscribe !== undefined) {
      issue(
        ['targets', i, 'subscribe'],
        `${t.subscribe} is itself a subscribe target: subscribe to the target that imports`,
      );
    }
  }
}
