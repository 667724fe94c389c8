/**
 * `POST /api/approve` `{ "name", "version", "note"? }`: what `ferry approve NAME@VERSION [--note]`
 * does, for a security scanner's webhook. A write, guarded like /api/republish by the auth hook.
 * The approval is recorded as given by the API token (`api:<http.tokenName>`).
 */
import { assertImageName, assertVersion, FerryError, type Logger } from '@ferry/shared';
import type { FastifyInstance } from 'fastify';
import { approveRollout } from '../rollout/rollout-commands.js';
import type { RolloutDriverDeps } from '../rollout/rollout-driver.js';
import { registerJsonWrite, strictObjectSchema } from './route-helpers.js';

export interface ApproveDeps {
  /** Who an approval through the API is recorded as. */
  tokenName: string;
  rollouts: RolloutDriverDeps;
  logger?: Logger;
}

type ApproveBody = { name: string; version: string; note?: string };

const ROUTE = {
  url: '/api/approve',
  what: 'approve',
  schema: strictObjectSchema(
    { name: { type: 'string' }, version: { type: 'string' } },
    { note: { type: 'string', maxLength: 1000 } },
  ),
  shape: '{ name, version, note? }',
};

/** Without deps (no rollouts in this process) the route answers 503. */
export function registerApproveRoute(app: FastifyInstance, deps: ApproveDeps | undefined): void {
  registerJsonWrite<ApproveBody>(
    app,
    ROUTE,
    deps &&
      (async (request, reply) => {
        const { name, version, note } = request.body;
        try {
          const ref = `${assertImageName(name)}@${assertVersion(version)}`;
          const result = await approveRollout(deps.rollouts, ref, { by: `api:${deps.tokenName}`, note });
          deps.logger?.info(
            { name, version, by: result.record.approval?.by, from: request.socket.remoteAddress },
            'web: approve',
          );
          return reply.code(200).send({ record: result.record, view: result.view });
        } catch (err) {
          if (err instanceof FerryError && err.code === 'ROLLOUT_NOT_FOUND') {
            return reply.code(404).send({ error: err.message });
          }
          if (err instanceof FerryError && (err.code === 'USAGE' || err.code === 'INVALID_NAME')) {
            return reply.code(400).send({ error: err.message });
          }
          throw err;
        }
      }),
  );
}
