import { createHash } from 'node:crypto';
// Records for the store tests, built from small overrides: complete and unique unless told otherwise.
import { factCid } from '../../../src/node/features/facts/cid.ts';
import type { AuditEntry } from '../../../src/store/ports/audit.ts';
import type { RevocationRecord } from '../../../src/store/ports/capabilities.ts';
import type { FactContent, FactRecord } from '../../../src/store/ports/facts.ts';
import type { PeerRecord } from '../../../src/store/ports/peers.ts';

export const SELF = 'spiffe://example.org/node/self';
export const PEER_A = 'spiffe://example.org/node/a';
export const PEER_B = 'spiffe://example.org/node/b';

let serial = 0;

/** A complete record whose content (and so CID) is unique unless `content` repeats another's. */
export function fact(overrides: Partial<FactRecord> = {}): FactRecord {
  const n = ++serial;
  const content: FactContent = {
    entity: overrides.entity ?? `test:item/${n}`,
    relation: overrides.relation ?? 'test:rel',
    value: overrides.value ?? { type: 'number', v: n },
    source: overrides.source ?? 'test',
    confidence: overrides.confidence ?? 1,
    scope: overrides.scope ?? 'company',
  };
  return {
    ...content,
    id: `fact-${n}`,
    timestamp: '2025-11-23T10:00:00.000001+01:00',
    valid_until: null,
    hlc: `${String(1_763_900_000_000 + n).padStart(15, '0')}-000000`,
    cid: factCid(content),
    attested: null,
    received_from: null,
    origin_node_id: SELF,
    // The store keeps a signature as given; only the federation checks it.
    origin_sig: { kid: 'test-key', sig: 'A'.repeat(86) },
    ...overrides,
  };
}

export function peer(overrides: Partial<PeerRecord> = {}): PeerRecord {
  const n = ++serial;
  return {
    id: `peer-${n}`,
    entityUri: `spiffe://example.org/node/p${n}`,
    federationUrl: `https://127.0.0.1:${20000 + n}`,
    publicKey: 'MCowBQYDK2VwAyEA-public-key-bytes',
    keyId: `key-${n}`,
    fingerprint: `sha256:${'ab'.repeat(32)}`,
    tlsSpkiSha256: 'cd'.repeat(32),
    status: 'pending',
    allowedScopes: ['company', 'public'],
    createdAt: `2025-11-23T10:00:${String(n % 60).padStart(2, '0')}.000Z`,
    updatedAt: `2025-11-23T10:00:${String(n % 60).padStart(2, '0')}.000Z`,
    ...overrides,
  };
}

/** Lets every queued callback and I/O completion run: enough for a waiting tx to start if it could. */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A revocation record numbered `n` (its revoked_at orders by n). */
export function revocation(n: number, issuer = 'spiffe://example.org/node/a'): RevocationRecord {
  return {
    capability_id: `cap-${n}`,
    issuer,
    expires_at: '2030-03-01T00:00:00.000Z',
    revoked_at: `2030-01-01T00:00:${String(n).padStart(2, '0')}.000Z`,
    reason: n % 2 === 0 ? null : `reason ${n}`,
  };
}

/** An audit entry that chains onto `last` (the store's append callback), hashed like the node does. */
export function link(event: string): (last: { seq: number; hash: string } | null) => AuditEntry {
  return (last) => {
    const body = {
      seq: (last?.seq ?? 0) + 1,
      ts: '2025-11-23T10:00:00.000Z',
      event_type: event,
      principal: null,
      detail: {},
      prev_hash: last?.hash ?? '0'.repeat(64),
    };
    return { ...body, hash: createHash('sha256').update(JSON.stringify(body)).digest('hex') };
  };
}
