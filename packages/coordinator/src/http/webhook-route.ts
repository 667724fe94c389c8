/**
 * `POST /hooks/artifactory` (discovery/artifactory-webhook.ts reads the event). The auth hook
 * checks the webhook secret before the body is read; the body is read as text whatever its
 * Content-Type (Artifactory's senders vary) and parsed by the handler.
 */
import type { FastifyInstance } from 'fastify';
import { readArtifactoryWebhook, WEBHOOK_BODY_LIMIT, type WebhookDeps } from '../discovery/artifactory-webhook.js';
import { methodNotAllowed } from './route-helpers.js';

const URL = '/hooks/artifactory';

export function registerWebhookRoute(app: FastifyInstance, deps: WebhookDeps): void {
  methodNotAllowed(app, URL, 'POST');
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
    scope.post<{ Body: string | undefined }>(
      URL,
      { bodyLimit: WEBHOOK_BODY_LIMIT, config: { access: { level: 'webhook' } } },
      async (request, reply) => {
        const out = readArtifactoryWebhook(request.body ?? '', deps);
        return reply.code(out.status).send(out.body);
      },
    );
  });
}
