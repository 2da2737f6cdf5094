// A feature that records every route registered on either listener of a node (fastify's onRoute hook,
// installed with the other listener-wide hooks, before any feature registers a route): what the API
// description must cover, seen independently of the node's own recording.
import type { FastifyContextConfig } from 'fastify';
import type { Feature } from '../../src/node/app/feature.ts';

export interface RecordedRoute {
  listener: 'api' | 'federation';
  method: string;
  /** Fastify's path, e.g. `/v1/facts/:id`. */
  url: string;
  config: FastifyContextConfig;
}

export function routeRecorder(): { feature: Feature; routes: RecordedRoute[] } {
  const routes: RecordedRoute[] = [];
  const record =
    (listener: RecordedRoute['listener']) =>
    (route: { method: string | string[]; url: string; config?: FastifyContextConfig }) => {
      for (const method of [route.method].flat())
        routes.push({ listener, method, url: route.url, config: route.config ?? {} });
    };
  return {
    routes,
    feature: {
      name: 'route-recorder',
      apiHooks: (app) => app.addHook('onRoute', record('api')),
      federationHooks: (app) => app.addHook('onRoute', record('federation')),
    },
  };
}

/** The routes a client calls: without the HEAD twin fastify adds to every GET. */
export function callableRoutes(routes: readonly RecordedRoute[]): RecordedRoute[] {
  return routes.filter(
    (route) =>
      !(
        route.method === 'HEAD' &&
        routes.some((get) => get.listener === route.listener && get.method === 'GET' && get.url === route.url)
      ),
  );
}

/** `/v1/facts/:id` → `/v1/facts/{id}`. */
export const templatedPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
