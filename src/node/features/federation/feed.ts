// The facts feed as one peer may read it, whatever the wire (the HTTPS route and the gRPC stream serve the
// same pages): facts that originated here (all facts with re-forwarding), in the scopes the peer may
// receive (never `local`), never those that originated at the peer, after a cursor bound to that scope set.
import { createHash } from 'node:crypto';
import type { FederationPage } from '../../../store/ports/facts.ts';
import type { PeerRecord } from '../../../store/ports/peers.ts';
import type { Store } from '../../../store/store.ts';

export interface FeedSource {
  store: Store;
  /** Serve facts that arrived from other peers too; default only facts that originated here. */
  reforward: boolean;
  selfEntityUri: string;
}

// The feed's format version is part of the tag: after an upgrade that changed what the feed carries
// (v2: origin signatures, ids derived from CIDs) every peer reads the feed once more from the start.
const FEED_VERSION = 'v2';

function scopeTag(scopes: string[]): string {
  return createHash('sha256')
    .update(`${FEED_VERSION}:${[...scopes].sort().join(',')}`)
    .digest('hex')
    .slice(0, 8);
}

function splitCursor(cursor: string | undefined): [string | undefined, string | undefined] {
  if (!cursor) return [undefined, undefined];
  const dot = cursor.lastIndexOf('.');
  return dot < 0 ? [cursor, undefined] : [cursor.slice(0, dot), cursor.slice(dot + 1)];
}

/** One page of `peer`'s feed after `cursor` (a cursor this function handed out, or none). */
export async function readFeedPage(
  source: FeedSource,
  peer: PeerRecord,
  cursor: string | undefined,
  limit: number,
): Promise<FederationPage> {
  // `local` never leaves the node, whatever was configured for the peer.
  const scopes = peer.allowedScopes.filter((scope) => scope !== 'local');
  // The feed cursor skips facts the peer may not receive, so it is only valid for the scope set it was
  // made under: when an operator widens the scopes, the peer starts over (ingest is idempotent).
  const tag = scopeTag(scopes);
  const [storeCursor, cursorTag] = splitCursor(cursor);
  const page = await source.store.federationPage({
    ...(storeCursor && cursorTag === tag ? { after: storeCursor } : {}),
    limit,
    scopes,
    ...(source.reforward ? {} : { originNodeId: source.selfEntityUri }),
    excludeOrigin: peer.entityUri,
  });
  return { ...page, cursor: `${page.cursor}.${tag}` };
}
