// The routes a listener registers, as fastify reports them: the API description is built from these, so a
// route is described where it is registered, and one registered without a description is visible.
import type { FastifyInstance } from 'fastify';
import type { RegisteredRoute } from './document.ts';

/** Records every route registered on `app` from now on (install before the routes: a listener-wide hook). */
export function recordRoutes(app: FastifyInstance, into: RegisteredRoute[]): void {
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat())
      into.push({ method: String(method), url: route.url, config: route.config ?? {} });
  });
}
