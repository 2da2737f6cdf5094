// Recall as a feature: POST /v1/recall over the facts store, with proofs from the fact log.
import type { NodeContext } from '../../app/context.ts';
import type { Feature } from '../../app/feature.ts';
import type { FactLog } from '../fact-log/fact-log.ts';
import { registerRecallRoutes } from './routes.ts';
import { RecallService } from './service.ts';

export function recallFeature(ctx: NodeContext, deps: { factLog: FactLog }): Feature {
  const service = new RecallService({ store: ctx.store, factLog: deps.factLog });
  return { name: 'recall', api: async (app) => registerRecallRoutes(app, service) };
}
