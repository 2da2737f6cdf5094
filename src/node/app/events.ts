// What happened inside the node that other features react to, so no feature calls into another's
// middle: a write wakes the peers (federation), an approval starts pulling, a revocation drops connections
// (federation listener), a key rotation re-signs the manifest and wakes peers.
import { EventEmitter } from 'node:events';
import type { PeerRecord } from '../../store/ports/peers.ts';

export interface NodeEventMap {
  /** A fact was written through the API. */
  fact_written: [];
  /** Facts from a peer were stored (a re-forwarding node serves them on: its gRPC streams push them). */
  facts_ingested: [];
  /** A capability this node issued was revoked (peers pull revocations with the facts). */
  capability_revoked: [];
  /** The node key changed (the manifest must be re-fetched by peers). */
  node_key_rotated: [];
  peer_approved: [peer: PeerRecord];
  peer_revoked: [peer: PeerRecord];
}

export class NodeEvents extends EventEmitter<NodeEventMap> {}

export type NodeEventHandlers = { [E in keyof NodeEventMap]?: (...args: NodeEventMap[E]) => void };

/** Subscribes every handler given; returns the function that unsubscribes them all. */
export function subscribe(events: NodeEvents, handlers: NodeEventHandlers): () => void {
  const entries = Object.entries(handlers) as [keyof NodeEventMap, (...args: unknown[]) => void][];
  for (const [event, handler] of entries) events.on(event, handler);
  return () => {
    for (const [event, handler] of entries) events.off(event, handler);
  };
}
