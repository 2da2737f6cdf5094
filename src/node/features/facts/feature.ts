// Facts: the Stigmem-shaped facts API and the service that stores facts written here and takes in facts
// replicated from peers. A write is announced on the node's events (federation wakes the peers). Facts
// that originated here are kept signed with the current node key: before the listeners open (so the feed
// never skips an unsigned one) and again after every node-key rotation.

import type { NodeContext } from '../../app/context.ts';
import { subscribe } from '../../app/events.ts';
import type { Feature } from '../../app/feature.ts';
import { HybridClock } from './hlc.ts';
import { signOwnFacts } from './resign.ts';
import { registerFactRoutes } from './routes.ts';
import { FactService } from './service.ts';

export async function factsFeature(ctx: NodeContext): Promise<Feature & { service: FactService }> {
  // Seeded from the largest HLC stored, so the clock never goes backwards across a restart or a clock step.
  const stored = await ctx.store.maxHlc();
  const { store, config, keys, logger } = ctx;
  const signOwn = async (why: string) => {
    const signed = await signOwnFacts(store, config.entityUri, keys.nodeKey);
    if (signed > 0)
      logger.info(
        { event: 'facts_signed', facts: signed, keyId: keys.nodeKey().keyId, why },
        'signed facts of this node with its current node key',
      );
  };
  await signOwn('start');
  const service = new FactService({
    store,
    selfEntityUri: config.entityUri,
    nodeKey: keys.nodeKey,
    hlc: new HybridClock(() => ctx.clock().getTime(), stored ? { initial: stored } : {}),
    maxClockSkewMs: config.maxClockSkewMs,
    attested: config.attested,
    now: ctx.clock,
    // Replicas on one database: each local write is stamped under the store's write lock (see serialize).
    ...(store.shared ? { serialize: (fn) => store.tx(fn) } : {}),
    // A fact written through the API and its audit entry commit together (one transaction, one flush).
    transaction: (fn) => store.tx(fn),
    onWrite: () => {
      ctx.metrics.factsWritten.inc();
      ctx.events.emit('fact_written');
    },
  });
  let resigning: Promise<void> = Promise.resolve();
  // Runs one after another; a failure is logged and retried at the next rotation or start.
  const resign = () => {
    resigning = resigning
      .then(() => signOwn('node_key_rotated'))
      .catch((error: Error) =>
        logger.error({ event: 'facts_sign_failed', error: error.message }, 'could not re-sign facts'),
      );
  };
  const unsubscribe = subscribe(ctx.events, { node_key_rotated: resign });
  return {
    name: 'facts',
    service,
    api: async (app) => registerFactRoutes(app, { service, store, audit: ctx.audit }),
    async drain() {
      unsubscribe();
      await resigning;
    },
  };
}
