// The node's wire to its peers: the peer transport (HTTPS today: the mTLS agent for calls, one fresh
// connection per manifest fetch), the token-minting client on top of it, and the verified manifest fetch
// every feature uses (peer registration, key-rotation refresh).
import type { NodeContext } from '../../app/context.ts';
import { type FetchedPeerManifest, fetchPeerManifest } from '../identity/fetch-manifest.ts';
import { FederationClient } from './client.ts';
import { HttpsPeerTransport } from './https/https-peer-transport.ts';
import type { PeerTransport } from './peer-transport.ts';

export interface PeerWire {
  transport: PeerTransport;
  client: FederationClient;
  /** The manifest at `url`, verified and bound to the certificate it arrived with. */
  fetchManifest(url: string, expectedEntityUri?: string): Promise<FetchedPeerManifest>;
}

/** The wire over `transport`; by default the HTTPS adapter built from the node's credentials. */
export function createPeerWire(ctx: NodeContext, transport: PeerTransport = httpsTransport(ctx)): PeerWire {
  const { clock } = ctx;
  const client = new FederationClient({
    transport,
    selfEntityUri: ctx.config.entityUri,
    nodeKey: ctx.keys.nodeKey,
    clock,
  });
  return {
    transport,
    client,
    fetchManifest: (url, expectedEntityUri) =>
      fetchPeerManifest(transport, url, {
        now: clock(),
        ...(expectedEntityUri ? { expectedEntityUri } : {}),
      }),
  };
}

function httpsTransport(ctx: NodeContext): PeerTransport {
  const { credentials, peers, logger, clock } = ctx;
  return new HttpsPeerTransport({
    credentials,
    expectedIdentity: (origin) => peers.expectedIdentityFor(origin),
    logger,
    clock,
    ...(ctx.expiry ? { expiry: ctx.expiry } : {}),
    metrics: ctx.tlsMetrics,
    totalTimeoutMs: ctx.config.pull.pageTimeoutMs,
    connectTimeoutMs: ctx.config.pull.connectTimeoutMs,
    onAnswerDate: (peer, date, sentMs, receivedMs) =>
      ctx.peerClocks.fromHttpDate(peer, date, sentMs, receivedMs),
  });
}
