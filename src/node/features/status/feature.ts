// The status page: /status (a page for people) and /status.json (its data, for read keys) on the API
// listener. Reads what the node already keeps; the one thing it adds is a minute-by-minute memory of the
// counters (an hour long), so refusals can be counted "in the last hour" and rates shown.
import type { NodeContext } from '../../app/context.ts';
import type { Feature } from '../../app/feature.ts';
import type { PeerReplication } from '../federation/puller.ts';
import type { Quotas } from '../quotas/quotas.ts';
import { loadStatusAssets } from './assets.ts';
import { CounterHistory } from './counter-history.ts';
import { registerStatusRoutes } from './routes.ts';
import { buildStatus, REMEMBERED } from './snapshot.ts';

const READING_EVERY_MS = 60_000;

export interface StatusFeatureDeps {
  /** How replication from each peer is going (the puller's view). */
  replication(peerId: string): PeerReplication;
  quotas: Quotas;
}

export function statusFeature(ctx: NodeContext, deps: StatusFeatureDeps): Feature {
  const now = () => ctx.clock().getTime();
  const history = new CounterHistory({ registry: ctx.registry, metrics: REMEMBERED, now });
  const startedAtMs = now();
  let timer: NodeJS.Timeout | undefined;
  const remember = () =>
    void history
      .record()
      .catch((error: Error) =>
        ctx.logger.warn(
          { event: 'status_reading_failed', error: error.message },
          'could not read the counters',
        ),
      );
  return {
    name: 'status',
    api: async (app) =>
      registerStatusRoutes(app, {
        assets: await loadStatusAssets({ authRequired: ctx.config.authRequired }),
        build: () => buildStatus({ ctx, ...deps, history, startedAtMs }),
      }),
    start() {
      remember();
      timer = setInterval(remember, READING_EVERY_MS);
      timer.unref();
    },
    close() {
      clearInterval(timer);
    },
  };
}
