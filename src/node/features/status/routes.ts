// The status page on the API listener. The page and its files are open (they hold no data, like
// /healthz); the data, /status.json, needs an API key with `read` and draws on the `fact_read` quota.
// A browser cannot put a bearer key on a navigation, so the page's script sends the key the operator
// types; scripts and monitors can read /status.json directly.
import type { FastifyInstance } from 'fastify';
import { describeRoute } from '../../http/openapi/route-doc.ts';
import { STATUS_HEADERS, type StatusAssets } from './assets.ts';

const TAG = 'status';
const fileDoc = (summary: string, contentType: string) =>
  describeRoute({
    tag: TAG,
    summary,
    responses: { 200: { description: 'The file (no data in it).', contentType } },
  });
const statusJsonDoc = describeRoute({
  tag: TAG,
  summary: 'The status page’s data',
  description:
    'This node and its certificate, each peer (state, last clean pull, lag in seconds and facts, clock skew, ' +
    'last error, backoff), the replication rate, the certificate-expiry timeline, rejections of the last hour ' +
    'by reason and quotas near their ceiling. See docs/operator/status-page.md for the fields.',
  responses: { 200: { description: 'The status document.' } },
});

export interface StatusRouteDeps {
  assets: StatusAssets;
  /** The status document now. */
  build(): Promise<unknown>;
}

export function registerStatusRoutes(app: FastifyInstance, deps: StatusRouteDeps): void {
  const file = (path: string, type: string, body: string) =>
    app.get(
      path,
      { config: { access: 'open', openapi: fileDoc(`Status page: ${path}`, type.split(';')[0] as string) } },
      async (_request, reply) =>
        reply.headers(STATUS_HEADERS).header('cache-control', 'no-cache').type(type).send(body),
    );
  file('/status', 'text/html; charset=utf-8', deps.assets.html);
  file('/status.js', 'text/javascript; charset=utf-8', deps.assets.js);
  file('/status.css', 'text/css; charset=utf-8', deps.assets.css);
  file('/status.svg', 'image/svg+xml', deps.assets.svg);
  app.get(
    '/status.json',
    { config: { access: 'read', quota: 'fact_read', openapi: statusJsonDoc } },
    async (_request, reply) =>
      reply
        .headers(STATUS_HEADERS)
        .header('cache-control', 'no-store')
        .send(await deps.build()),
  );
}
