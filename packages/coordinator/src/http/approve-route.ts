/**
 * `POST /api/approve` `{ "name", "version", "note"? }`: what `ferry approve NAME@VERSION [--note]`
 * does, for a security scanner's webhook. A write, guarded like /api/republish by the auth hook.
 * The approval is recorded as given by the API token (`api:<http.tokenName>`).
 */
import { assertImageName, assertVersion, FerryError, type Logger } from '@ferry/shared';
import type { FastifyInstance } from 'fastify';
import { approveRollout } from '../rollout/rollout-commands.js';
import type { RolloutDriverDeps } from '../rollout/rollout-driver.js';
import { methodNotAllowed, unavailable } from './route-helpers.js';

export interface ApproveDeps {
  /** Who an approval through the API is recorded as. */
  tokenName: string;
  rollouts: RolloutDriverDeps;
  logger?: Logger;
}

interface ApproveBody {
  name: string;
  version: string;
  note?: string;
}

const bodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'version'],
  properties: {
    name: { type: 'string' },
    version: { type: 'string' },
    note: { type: 'string', maxLength: 1000 },
  },
} as const;

const URL = '/api/approve';

/** Without deps (no rollouts in this process) the route answers 503. */
export function registerApproveRoute(app: FastifyInstance, deps: ApproveDeps | undefined): void {
  methodNotAllowed(app, URL, 'POST');
  if (!deps) {
    unavailable(app, 'POST', URL, 'approve');
    return;
  }
  app.post<{ Body: ApproveBody }>(
    URL,
    {
      schema: { body: bodySchema },
      config: { access: { level: 'write', what: 'approve', json: true }, shape: '{ name, version, note? }' },
    },
    async (request, reply) => {
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
    },
  );
}
