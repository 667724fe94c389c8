import { MessagingError } from '@ferry/shared';
import type { CoordinatorContext, CoordinatorNats } from '../coordinator-context.js';
import type { RolloutDriverDeps } from './rollout-driver.js';
import { RolloutStore } from './rollout-store.js';

/** The rollout side of a coordinator context (the coordinator creates `ferry_rollouts`, so it is always there). */
export function rolloutDeps(ctx: CoordinatorNats & Pick<CoordinatorContext, 'logger'>): RolloutDriverDeps {
  const kv = ctx.topology.rollouts;
  if (!kv) throw new MessagingError('the ferry_rollouts bucket is not open');
  return {
    topology: ctx.topology,
    catalog: ctx.catalog,
    bus: ctx.bus,
    rollouts: new RolloutStore(kv),
    logger: ctx.logger,
  };
}
