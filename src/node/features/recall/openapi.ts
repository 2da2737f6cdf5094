// POST /v1/recall's entry in the API description (routes.ts declares it): the body schema is the one the
// route parses with; the answer's schema is the fact record plus the chain proof verify-proof reads.
import { z } from 'zod';
import { component } from '../../http/openapi/components.ts';
import { describeRoute } from '../../http/openapi/route-doc.ts';
import { SignedCheckpointSchema } from '../fact-log/checkpoint.ts';
import { chainProofSchema } from '../fact-log/verify-proof.ts';
import { exampleFactRecord } from '../facts/openapi.ts';
import { factRecordSchema } from '../facts/schema.ts';
import { DEFAULT_TOKEN_BUDGET, MAX_QUERY_LENGTH, MAX_TOKEN_BUDGET, recallInputSchema } from './schema.ts';
import { SCAN_LIMIT } from './service.ts';

const recallAnswerSchema = component(
  'RecallAnswer',
  z.strictObject({
    facts: z.array(
      factRecordSchema.extend({
        chain_proof: chainProofSchema.optional().meta({
          description: 'With `Stigmem-Verify: full`: CID, origin signature, RFC 9162 inclusion proof.',
        }),
      }),
    ),
    tokens_used: z.number().int().nonnegative(),
    token_budget: z.number().int().positive(),
    truncated: z.boolean().meta({ description: 'A matching fact was left out: the budget was used up.' }),
    chain_proof: z.strictObject({ checkpoint: SignedCheckpointSchema }).optional().meta({
      description: 'With `Stigmem-Verify: full`: the signed checkpoint every inclusion proof leads to.',
    }),
  }),
);

export const recallDoc = describeRoute({
  tag: 'recall',
  summary: 'Recall the facts that match a query, within a token budget',
  description:
    `Facts whose entity, relation or value share a word with \`query\` (1–${MAX_QUERY_LENGTH} characters), ` +
    'most relevant first (entity words weigh 3, relation 2, value 1; newest first among equals), trimmed to ' +
    `\`token_budget\` (1–${MAX_TOKEN_BUDGET}, default ${DEFAULT_TOKEN_BUDGET}; a fact costs ⌈its JSON bytes / 4⌉). ` +
    `Only the newest ${SCAN_LIMIT} facts of the scope are searched. Request header \`Stigmem-Verify: full\` adds ` +
    'each fact’s `chain_proof` and the signed checkpoint (`tessera verify-proof` checks them offline); `none` or ' +
    'absent: no proofs; any other value is 400 `bad_request`. Body at most 8 KiB, `Content-Type: application/json`.',
  body: recallInputSchema,
  responses: {
    200: {
      description: 'The facts, most relevant first.',
      schema: recallAnswerSchema,
      example: { facts: [exampleFactRecord], tokens_used: 96, token_budget: 1000, truncated: false },
    },
  },
  errors: ['bad_request', 'store_unavailable'],
  examples: {
    tutorial: {
      summary: 'The Stigmem hardening tutorial’s final check',
      body: { query: 'hardening check', scope: 'company', token_budget: 1000 },
    },
    anyScope: { summary: 'Every scope, the default budget', body: { query: 'site status' } },
  },
});
