// Keeps every fact that originated here signed with the node's current key: facts stored before origin
// signatures existed (schema migration 5) and facts signed with a key since rotated away. Peers verify a
// fact against the keys the origin publishes now, so after the old key's dual-trust window a new peer
// could not verify a fact still signed with it. Batches, one transaction each; safe to interrupt and rerun.
import type { Store } from '../../../store/store.ts';
import type { NodeKey } from '../identity/node-key.ts';
import { signOrigin } from './origin-signature.ts';

const BATCH = 500;

/** Signs this node's facts not yet signed by `key`; returns how many were (re-)signed. */
export async function signOwnFacts(store: Store, selfEntityUri: string, key: () => NodeKey): Promise<number> {
  let signed = 0;
  for (;;) {
    const current = key();
    const batch = await store.factsToSign(selfEntityUri, current.keyId, BATCH);
    if (batch.length === 0) return signed;
    await store.tx(async (tx) => {
      for (const record of batch) await tx.setOriginSignature(record.cid, signOrigin(record, current));
    });
    signed += batch.length;
  }
}
