// Replication of capability revocations, both sides. The issuing node serves ITS OWN revocations as a feed
// with a cursor (GET /v1/federation/revocations?cursor&limit, behind the usual peer authentication); a peer
// pulls it alongside facts and ingests each page with its cursor in one transaction. A record is accepted
// only from its issuer (issuer == the peer pulled from): a peer cannot revoke someone else's capabilities.
import { z } from 'zod';
import type { CapabilityStore, RevocationPage } from '../../../store/ports/capabilities.ts';
import type { MetaStore } from '../../../store/ports/meta.ts';
import type { PeerRecord } from '../../../store/ports/peers.ts';
import type { Store } from '../../../store/store.ts';
import { component } from '../../http/openapi/components.ts';
import { parseInput } from '../../validate.ts';
import type { FederationClient } from '../federation/client.ts';

export const REVOCATION_PAGE_SIZE = 500;

/** GET /v1/federation/revocations query. */
export const revocationFeedQuery = z.strictObject({
  cursor: z.string().max(32).optional(),
  limit: z.coerce.number().int().min(1).max(REVOCATION_PAGE_SIZE).default(REVOCATION_PAGE_SIZE),
});

/** Serving side: one page of this node's revocations after `query.cursor`. NodeError 422 for bad input. */
export async function revocationFeed(
  store: CapabilityStore,
  selfEntityUri: string,
  query: unknown,
): Promise<RevocationPage> {
  const parsed = { data: parseInput(revocationFeedQuery, query ?? {}, 'query') };
  return await store.revocationPage({
    ...(parsed.data.cursor !== undefined ? { after: parsed.data.cursor } : {}),
    limit: parsed.data.limit,
    issuer: selfEntityUri,
  });
}

const rfc3339 = z.iso.datetime({ offset: true });
/** A revocation as it replicates (and as the revoke route answers it). */
export const RevocationSchema = component(
  'Revocation',
  z.object({
    capability_id: z.string().regex(/^[A-Za-z0-9_-]{8,128}$/),
    issuer: z.string().min(1).max(2048),
    expires_at: rfc3339,
    revoked_at: rfc3339,
    reason: z.string().max(1024).nullable(),
  }),
);
const PageSchema = z.object({
  revocations: z.array(z.unknown()).max(REVOCATION_PAGE_SIZE),
  cursor: z.string().regex(/^\d{1,16}$/),
  more: z.boolean(),
});

/** Where we are in a peer's revocation feed (kept in meta, next to nothing else of the peer). */
export function revocationCursorKey(peerId: string): string {
  return `revocation_cursor:${peerId}`;
}

export interface IngestResult {
  added: number;
  refused: number;
}

/** Ingests one page from `peer` and saves its cursor, in the caller's transaction. */
export async function ingestRevocationPage(
  tx: CapabilityStore & MetaStore,
  peer: Pick<PeerRecord, 'id' | 'entityUri'>,
  page: unknown,
): Promise<IngestResult & { cursor: string; more: boolean }> {
  const parsed = PageSchema.safeParse(page);
  if (!parsed.success) throw new Error(`${peer.entityUri} sent a malformed revocation page`);
  let added = 0;
  let refused = 0;
  for (const raw of parsed.data.revocations) {
    const record = RevocationSchema.safeParse(raw);
    if (!record.success || record.data.issuer !== peer.entityUri) {
      refused++;
      continue;
    }
    if (await tx.addRevocation(record.data)) added++;
  }
  await tx.setMeta(revocationCursorKey(peer.id), parsed.data.cursor);
  return { added, refused, cursor: parsed.data.cursor, more: parsed.data.more };
}

export type RevocationPageFetcher = (cursor: string | undefined, limit: number) => Promise<unknown>;

/** The fetcher of a real peer: GET /v1/federation/revocations over the federation client. */
export function federationRevocationFetcher(
  client: FederationClient,
  peer: PeerRecord,
): RevocationPageFetcher {
  return (cursor, limit) => client.pullRevocations(peer, { limit, ...(cursor ? { cursor } : {}) });
}

/** Pulling side: drains the peer's feed from our saved cursor; each page commits with its cursor. */
export async function pullRevocations(options: {
  store: Store;
  peer: Pick<PeerRecord, 'id' | 'entityUri'>;
  fetchPage: RevocationPageFetcher;
  pageSize?: number;
}): Promise<IngestResult> {
  const { store, peer } = options;
  const total: IngestResult = { added: 0, refused: 0 };
  for (;;) {
    const cursor = (await store.getMeta(revocationCursorKey(peer.id))) ?? undefined;
    const page = await options.fetchPage(cursor, options.pageSize ?? REVOCATION_PAGE_SIZE);
    const result = await store.tx((tx) => ingestRevocationPage(tx, peer, page));
    total.added += result.added;
    total.refused += result.refused;
    // An unchanged cursor with `more` would loop forever on a misbehaving peer.
    if (!result.more || result.cursor === cursor) return total;
  }
}
