// What a feature of the node is: its service(s), built from the node context, and what it adds to the two
// listeners (listener-wide hooks, and its routes as a Fastify plugin) and to the lifecycle. compose.ts
// lists the features in order; nothing else needs to know a feature exists.
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';

export interface Feature {
  readonly name: string;
  /** Listener-wide hooks on the API listener (auth, quotas, audit trail, request metrics), in compose order. */
  apiHooks?(app: FastifyInstance): void;
  /** The feature's API routes; each route declares its access, quota and audit entry in its config. */
  api?: FastifyPluginAsync;
  /** Listener-wide hooks on the federation listener (peer authentication, request metrics). */
  federationHooks?(app: FastifyInstance): void;
  /** The feature's federation routes. */
  federation?: FastifyPluginAsync;
  /** After both listeners listen (timers, pullers, watchers start). */
  start?(): void | Promise<void>;
  /** Read again what the feature loads from files (key rings); the TLS material is the context's. */
  reload?(): Promise<unknown>;
  /** Stop taking new work (called in reverse order before the listeners close). */
  drain?(): void | Promise<void>;
  /** Release what the feature holds (called in reverse order after the listeners closed). */
  close?(): void | Promise<void>;
}

/** Installs every feature's hooks, then registers every feature's routes, on one listener. */
export async function mountFeatures(
  app: FastifyInstance,
  features: readonly Feature[],
  listener: 'api' | 'federation',
): Promise<void> {
  for (const feature of features) feature[`${listener}Hooks`]?.(app);
  for (const feature of features) {
    const routes = feature[listener];
    if (routes) await app.register(routes);
  }
}
