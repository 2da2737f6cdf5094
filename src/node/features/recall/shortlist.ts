// The recall answer under a token budget: matching facts ordered most relevant first (higher score, then
// newer HLC, then CID so the order is total), and the longest prefix of that order whose estimated tokens
// fit the budget. Kept incrementally while the scan goes on, so memory stays about one budget's worth of
// facts: a fact cut off at one step can never come back (more facts ahead of it only push it further out).
import type { FactRecord } from '../../../store/ports/facts.ts';

/** The estimate of a fact's tokens: ceil(bytes of its JSON, as the answer carries it without a proof, / 4). */
export function tokenCost(record: FactRecord): number {
  return Math.ceil(Buffer.byteLength(JSON.stringify(record), 'utf8') / 4);
}

export interface Candidate {
  record: FactRecord;
  score: number;
  cost: number;
}

export function moreRelevant(a: Candidate, b: Candidate): number {
  if (a.score !== b.score) return b.score - a.score;
  if (a.record.hlc !== b.record.hlc) return a.record.hlc > b.record.hlc ? -1 : 1;
  return a.record.cid < b.record.cid ? -1 : a.record.cid > b.record.cid ? 1 : 0;
}

export class Shortlist {
  #kept: Candidate[] = [];
  #truncated = false;

  constructor(private readonly budget: number) {}

  add(candidates: readonly Candidate[]): void {
    if (candidates.length === 0) return;
    const all = [...this.#kept, ...candidates].sort(moreRelevant);
    let used = 0;
    let fit = 0;
    while (fit < all.length && used + all[fit]!.cost <= this.budget) used += all[fit++]!.cost;
    if (fit < all.length) this.#truncated = true;
    this.#kept = all.slice(0, fit);
  }

  get facts(): FactRecord[] {
    return this.#kept.map((c) => c.record);
  }

  get tokensUsed(): number {
    return this.#kept.reduce((sum, c) => sum + c.cost, 0);
  }

  /** A matching fact was left out for the budget. */
  get truncated(): boolean {
    return this.#truncated;
  }
}
