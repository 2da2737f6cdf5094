// Recall: the facts that best match a query, most relevant first, trimmed to a token budget; with proofs,
// each fact also carries its chain proof (CID, origin signature, inclusion in the node's fact log) and the
// answer the signed checkpoint the proofs are against. Bounded work per request: the scan reads the newest
// SCAN_LIMIT facts of the scope asked for, a page at a time; older facts are not recalled.
import type { FactRecord, FactStore, OriginSignature } from '../../../store/ports/facts.ts';
import type { SignedCheckpoint } from '../fact-log/checkpoint.ts';
import type { FactLog } from '../fact-log/fact-log.ts';
import { queryTerms, relevance } from './relevance.ts';
import type { RecallInput } from './schema.ts';
import { Shortlist, tokenCost } from './shortlist.ts';

export const SCAN_LIMIT = 2000;
const SCAN_PAGE = 200;

export interface FactChainProof {
  cid: string;
  origin_sig: OriginSignature | null;
  log_index: number;
  tree_size: number;
  inclusion_proof: string[];
}

export type RecalledFact = FactRecord & { chain_proof?: FactChainProof };

export interface RecallAnswer {
  facts: RecalledFact[];
  tokens_used: number;
  token_budget: number;
  /** A matching fact was left out because the budget was used up. */
  truncated: boolean;
  /** With proofs only: the signed checkpoint every fact's inclusion proof leads to. */
  chain_proof?: { checkpoint: SignedCheckpoint };
}

export class RecallService {
  constructor(private readonly deps: { store: FactStore; factLog: FactLog }) {}

  async recall(input: RecallInput, withProofs: boolean): Promise<RecallAnswer> {
    const found = await this.#select(input);
    const answer: RecallAnswer = {
      facts: found.facts,
      tokens_used: found.tokensUsed,
      token_budget: input.token_budget,
      truncated: found.truncated,
    };
    if (!withProofs) return answer;
    const { checkpoint, proofs } = await this.deps.factLog.prove(found.facts);
    answer.facts = found.facts.map((record) => {
      const proof = proofs.get(record.cid)!;
      return { ...record, chain_proof: { cid: record.cid, origin_sig: record.origin_sig, ...proof } };
    });
    answer.chain_proof = { checkpoint };
    return answer;
  }

  async #select(input: RecallInput): Promise<Shortlist> {
    const terms = queryTerms(input.query);
    const shortlist = new Shortlist(input.token_budget);
    const filter = input.scope === undefined ? {} : { scope: input.scope };
    let cursor: string | undefined;
    for (let scanned = 0; scanned < SCAN_LIMIT; ) {
      const page = await this.deps.store.recentFacts(
        filter,
        Math.min(SCAN_PAGE, SCAN_LIMIT - scanned),
        cursor,
      );
      scanned += page.facts.length;
      shortlist.add(
        page.facts.flatMap((record) => {
          const score = relevance(record, terms);
          return score > 0 ? [{ record, score, cost: tokenCost(record) }] : [];
        }),
      );
      if (page.cursor === null) break;
      cursor = page.cursor;
    }
    return shortlist;
  }
}
