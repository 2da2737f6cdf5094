// The federation API (served only on the federation listener): the feed a peer pulls and the wake it sends.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { FEDERATION_REMAINING_CAP } from '../../../store/ports/facts.ts';
import type { Store } from '../../../store/store.ts';
import { describeRoute } from '../../http/openapi/route-doc.ts';
import { parseInput } from '../../validate.ts';
import { factRecordSchema } from '../facts/schema.ts';
import { type FederationAuthDeps, peerOf } from './authenticate.ts';
import { readFeedPage } from './feed.ts';
import { FEDERATION_PATHS } from './https/paths.ts';
import { FEED_PAGE_SIZE } from './puller.ts';

const feedQuery = z.strictObject({
  cursor: z.string().max(200).optional(),
  limit: z.coerce.number().int().min(1).max(FEED_PAGE_SIZE).default(FEED_PAGE_SIZE),
});

const TAG = 'federation';

const feedDoc = describeRoute({
  tag: TAG,
  summary: 'The facts feed a peer pulls',
  description:
    'Facts that originated on this node (all facts with `TESSERA_FEDERATION_REFORWARD`), in insertion ' +
    'order, in the scopes this peer may receive (never `local`), never those that originated at the peer. ' +
    'Each record carries its origin signature. The cursor is bound to the scope set: when the scopes ' +
    `change the peer starts over. Pages of \`limit\` (1–${FEED_PAGE_SIZE}); counted against the peer's ` +
    'federation pull quota.',
  query: feedQuery,
  responses: {
    200: {
      description: 'One page; `more` when facts wait after it, `remaining` how many.',
      schema: z.strictObject({
        facts: z.array(factRecordSchema),
        cursor: z.string(),
        more: z.boolean(),
        remaining: z
          .number()
          .int()
          .min(0)
          .max(FEDERATION_REMAINING_CAP)
          .optional()
          .meta({
            description: `Facts still waiting after this page, counted up to ${FEDERATION_REMAINING_CAP} (older nodes omit it).`,
          }),
      }),
      example: { facts: [], cursor: '0.1a2b3c4d', more: false },
    },
  },
  errors: ['quota_exceeded', 'store_unavailable'],
  examples: { first: { summary: 'From the start, 100 at a time', query: { limit: '100' } } },
});

const wakeDoc = describeRoute({
  tag: TAG,
  summary: 'Ask this node to pull from the caller now',
  description: 'Sent by a peer after it wrote facts (`TESSERA_FEDERATION_PUSH_ENABLED`); the pull follows.',
  responses: {
    202: {
      description: 'A pull from the caller is on its way.',
      schema: z.strictObject({ status: z.literal('pulling') }),
      example: { status: 'pulling' },
    },
  },
});

export interface FederationRouteDeps extends FederationAuthDeps {
  store: Store;
  /** Serve facts that arrived from other peers too; default only facts that originated here. */
  reforward: boolean;
  onWake(peerId: string): void;
  /** Charges one federation pull to the peer's quota; throws the 429 when it is spent. */
  takeQuota?(peerEntityUri: string, reply: FastifyReply): void | Promise<void>;
}

const PEER = { access: 'peer' } as const;

export function registerFederationRoutes(app: FastifyInstance, deps: FederationRouteDeps): void {
  app.get(FEDERATION_PATHS.facts, { config: { ...PEER, openapi: feedDoc } }, async (request, reply) => {
    const peer = peerOf(request);
    await deps.takeQuota?.(peer.entityUri, reply);
    const query = parseInput(feedQuery, request.query, 'query');
    return readFeedPage(deps, peer, query.cursor, query.limit);
  });

  app.post(FEDERATION_PATHS.wake, { config: { ...PEER, openapi: wakeDoc } }, async (request, reply) => {
    const peer = peerOf(request);
    deps.onWake(peer.id);
    return reply.status(202).send({ status: 'pulling' });
  });
}
