// The status page on the API listener. The page and its files are open (they hold no data, like
// /healthz); the data, /status.json, needs an API key with `read` and draws on the `fact_read` quota.
// A browser cannot put a bearer key on a navigation, so the page's script sends the key the operator
// types; scripts and monitors can read /status.json directly.
import type { FastifyInstance } from 'fastify';
import { STATUS_HEADERS, type StatusAssets } from './assets.ts';

const OPEN = { config: { access: 'open' } } as const;
const READ = { config: { access: 'read', quota: 'fact_read' } } as const;

export interface StatusRouteDeps {
  assets: StatusAssets;
  /** The status document now. */
  build(): Promise<unknown>;
}

export function registerStatusRoutes(app: FastifyInstance, deps: StatusRouteDeps): void {
  const file = (path: string, type: string, body: string) =>
    app.get(path, OPEN, async (_request, reply) =>
      reply.headers(STATUS_HEADERS).header('cache-control', 'no-cache').type(type).send(body),
    );
  file('/status', 'text/html; charset=utf-8', deps.assets.html);
  file('/status.js', 'text/javascript; charset=utf-8', deps.assets.js);
  file('/status.css', 'text/css; charset=utf-8', deps.assets.css);
  file('/status.svg', 'image/svg+xml', deps.assets.svg);
  app.get('/status.json', READ, async (_request, reply) =>
    reply
      .headers(STATUS_HEADERS)
      .header('cache-control', 'no-store')
      .send(await deps.build()),
  );
}
