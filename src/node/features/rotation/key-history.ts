// What the transparency log's rotation events say about one key of a kind. Only the events that lead to
// the key in use count (each hands over from the key the previous one made current): an event in the log
// that does not lead there proves nothing about this key, whoever wrote it. A key given as a secret
// (TESSERA_NODE_PRIVATE_KEY, TESSERA_ISSUER_PRIVATE_KEY) is changed by the operator, not by the rotation,
// so it can lag behind the log: `standingOf` says by how much.
import type { SignedRotationEvent } from './rotation-event.ts';

/** The events that lead to `keyId`, oldest first (empty when no rotation made it current). */
export function chainTo(events: readonly SignedRotationEvent[], keyId: string): SignedRotationEvent[] {
  const chain: SignedRotationEvent[] = [];
  const seen = new Set<string>([keyId]);
  let key = keyId;
  for (;;) {
    // The latest event to this key: a rotation that superseded an earlier one from the same key wins.
    const event = events.findLast((e) => e.new_key_id === key);
    if (!event || seen.has(event.old_key_id)) break;
    chain.unshift(event);
    seen.add(event.old_key_id);
    key = event.old_key_id;
  }
  return chain;
}

export type KeyStanding =
  /** No rotation of this kind, or the last one made this key current. */
  | { state: 'current' }
  /** The last rotation was FROM this key: its successor exists but is not installed yet. */
  | { state: 'pending'; event: SignedRotationEvent; index: number }
  /** This key was rotated out and the log moved on past its successor. */
  | { state: 'retired'; event: SignedRotationEvent; index: number }
  /** A rotation to this key was superseded by a later rotation from the same old key. */
  | { state: 'superseded'; event: SignedRotationEvent; index: number; by: SignedRotationEvent }
  /** The log never names this key: it replaced the current one without a rotation event. */
  | { state: 'unlogged'; head: SignedRotationEvent };

/**
 * Where `keyId` stands in `events` (one kind, log order; `indexes` the events' log indexes, same order).
 */
export function standingOf(
  events: readonly SignedRotationEvent[],
  keyId: string,
  indexes: readonly number[] = events.map((_, i) => i),
): KeyStanding {
  const last = events.at(-1);
  if (!last || last.new_key_id === keyId) return { state: 'current' };
  const at = (event: SignedRotationEvent) => indexes[events.indexOf(event)] ?? -1;
  if (last.old_key_id === keyId) return { state: 'pending', event: last, index: at(last) };
  const rotatedOut = events.findLast((e) => e.old_key_id === keyId);
  if (rotatedOut) return { state: 'retired', event: rotatedOut, index: at(rotatedOut) };
  const madeCurrent = events.findLast((e) => e.new_key_id === keyId);
  if (madeCurrent) {
    const by = events.findLast((e) => e.old_key_id === madeCurrent.old_key_id) as SignedRotationEvent;
    return { state: 'superseded', event: madeCurrent, index: at(madeCurrent), by };
  }
  return { state: 'unlogged', head: last };
}
