/**
 * `POST /api/approve` `{ "name", "version", "note"? }`: what `ferry approve NAME@VERSION [--note]`
 * does, for a security scanner's webhook. The same refusals as /api/republish (token required,
 * same-origin, JSON, bearer token). The approval is recorded as given by the API token
 * (`api:<http.tokenName>`).
 */
import type { IncomingMessage } from 'node:http';
import { assertImageName, assertVersion, FerryError, type Logger, type Secret } from '@ferry/shared';
import { z } from 'zod';
import { approveRollout } from '../rollout/rollout-commands.js';
import type { RolloutDriverDeps } from '../rollout/rollout-driver.js';
import { type ApiResponse, readWriteRequest } from './republish-endpoint.js';

const bodySchema = z.strictObject({
  name: z.string(),
  version: z.string(),
  note: z.string().max(1000).optional(),
});

export interface ApproveDeps {
  token?: Secret;
  /** Who an approval through the API is recorded as. */
  tokenName: string;
  rollouts: RolloutDriverDeps;
  logger?: Logger;
}

export async function handleApprove(req: IncomingMessage, deps: ApproveDeps): Promise<ApiResponse> {
  const request = await readWriteRequest(req, deps.token, 'approve', bodySchema, '{ name, version, note? }');
  if ('refusal' in request) return request.refusal;
  const { name, version, note } = request.body;
  try {
    const ref = `${assertImageName(name)}@${assertVersion(version)}`;
    const result = await approveRollout(deps.rollouts, ref, { by: `api:${deps.tokenName}`, note });
    deps.logger?.info(
      { name, version, by: result.record.approval?.by, from: req.socket.remoteAddress },
      'web: approve',
    );
    return { status: 200, body: { record: result.record, view: result.view } };
  } catch (err) {
    if (err instanceof FerryError && err.code === 'ROLLOUT_NOT_FOUND')
      return { status: 404, body: { error: err.message } };
    if (err instanceof FerryError && (err.code === 'USAGE' || err.code === 'INVALID_NAME')) {
      return { status: 400, body: { error: err.message } };
    }
    throw err;
  }
}
