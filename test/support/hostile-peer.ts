// A hostile fake peer, built on the library's own mTLS server (createMtlsServer) with a real certificate
// from the test CA (URI SAN = its entity URI) and a real manifest signed by its own node key: exactly what
// a node's registration and approval accept. Its federation feed is a script the test sets; it answers
// revocations (none) and wakes like a node, and can wake a node itself with a real peer token. The helpers
// below build fact records the way an origin does (CID, derived id, origin signature) so the test can
// sign honestly or forge precisely.
import type { AddressInfo } from 'node:net';
import type { FastifyReply } from 'fastify';
import { Agent, request } from 'undici';
import { factCid } from '../../src/node/features/facts/cid.ts';
import { factId } from '../../src/node/features/facts/fact-id.ts';
import { formatHlc } from '../../src/node/features/facts/hlc.ts';
import { signOrigin } from '../../src/node/features/facts/origin-signature.ts';
import { FEDERATION_PATHS } from '../../src/node/features/federation/https/paths.ts';
import { mintPeerToken } from '../../src/node/features/federation/peer-token.ts';
import { buildManifest } from '../../src/node/features/identity/manifest.ts';
import type { NodeKey } from '../../src/node/features/identity/node-key.ts';
import { generateKey } from '../../src/node/features/rotation/key-files.ts';
import type { CertificateSpec } from '../../src/pki/certificate.ts';
import type { FactContent, FactRecord, Scope } from '../../src/store/ports/facts.ts';
import { allow } from '../../src/tls/authorize.ts';
import { clientTlsOptions, serverTlsOptions } from '../../src/tls/policy.ts';
import { createMtlsServer } from '../../src/transport/https-server.ts';
import { pemOf, type TestCa, testUri, writeMaterial } from './pki.ts';
import { openStaticCredentials, silentLogger } from './tls-peers.ts';

export interface FeedCall {
  /** The cursor the puller sent (undefined on its first pull). */
  cursor: string | undefined;
  limit: number;
}

/** Answers one feed request: return a JSON value, or use `reply` for raw bytes or a trickle. */
export type FeedScript = (call: FeedCall, reply: FastifyReply) => unknown;

export interface FeedPage {
  facts: unknown[];
  cursor: string;
}

export interface HostilePeer {
  entityUri: string;
  /** Its federation URL (https://127.0.0.1:<port>). */
  url: string;
  /** Its node key: the manifest's key, and the key its own facts are signed with. */
  key: NodeKey;
  /** The feed script in force. */
  feed: FeedScript;
  /** Every feed request received, in order. */
  feedCalls: FeedCall[];
  /** How far ahead of the real time the `Date` of every answer is (a peer whose clock runs fast); 0 = honest. */
  clockAheadMs: number;
  /** Serves these pages as a feed keyed by cursor (page i+1 after page i's cursor), then an empty tail. */
  serve(pages: FeedPage[]): void;
  /** Back to an honest empty feed that keeps the puller's cursor. */
  reset(): void;
  /**
   * Presents a new certificate from now on (same CA and URI SAN, `overrides` on top; even one its own
   * credential source would refuse) and drops the open connections, so the next pull handshakes with it.
   */
  rotate(overrides: Partial<CertificateSpec>): Promise<void>;
  /** POST the wake route of `target` as this peer (its certificate, a token signed by its node key). */
  wake(target: { entityUri: string; federationUrl: string }): Promise<number>;
  close(): Promise<void>;
}

const emptyFeed: FeedScript = ({ cursor }) => ({ facts: [], cursor: cursor ?? 'start', more: false });

export async function startHostilePeer(options: {
  ca: TestCa;
  name: string;
  dir: string;
}): Promise<HostilePeer> {
  const entityUri = testUri(options.name);
  const leaf = await options.ca.issue(options.name, { uris: [entityUri] });
  const paths = await writeMaterial(options.dir, options.name, leaf, options.ca.certPem);
  const credentials = await openStaticCredentials(paths);
  const key = generateKey();
  const app = createMtlsServer({
    credentials,
    authorize: () => allow,
    logger: silentLogger,
    // A trickling answer must not hold close() open.
    fastify: { forceCloseConnections: true },
  });
  const peer: HostilePeer = {
    entityUri,
    url: '',
    key,
    feed: emptyFeed,
    feedCalls: [],
    clockAheadMs: 0,
    serve(pages) {
      peer.feed = ({ cursor }) => {
        const at = pages.findIndex((page) => page.cursor === cursor);
        const next = pages[at + 1];
        if (!next) return { facts: [], cursor, more: false };
        return { ...next, more: at + 2 < pages.length };
      };
    },
    reset() {
      peer.feed = emptyFeed;
      peer.clockAheadMs = 0;
    },
    async wake(target) {
      const token = await mintPeerToken({
        privateKey: key.privateKey,
        keyId: key.keyId,
        issuer: entityUri,
        audience: target.entityUri,
        now: new Date(),
      });
      const dispatcher = new Agent({
        connect: {
          ...clientTlsOptions(pemOf(leaf, options.ca.certPem)),
          checkServerIdentity: () => undefined,
        } as NonNullable<Agent.Options['connect']>,
      });
      try {
        const response = await request(new URL(FEDERATION_PATHS.wake, target.federationUrl), {
          method: 'POST',
          dispatcher,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: '{}',
        });
        await response.body.text();
        return response.statusCode;
      } finally {
        await dispatcher.close();
      }
    },
    async rotate(overrides) {
      // Straight into the server, past the credential source's checks: a hostile peer presents what it likes.
      const next = await options.ca.issue(options.name, { uris: [entityUri], ...overrides });
      app.server.setSecureContext(serverTlsOptions(pemOf(next, options.ca.certPem)));
      app.server.closeAllConnections();
    },
    async close() {
      await app.close();
      credentials.close();
    },
  };
  // Node's server writes its own Date unless the answer has one.
  app.addHook('onSend', async (_request, reply) => {
    if (peer.clockAheadMs) reply.header('date', new Date(Date.now() + peer.clockAheadMs).toUTCString());
  });
  // The same shape a real node serves (ManifestSigner): signed by its node key, naming its TLS key.
  app.get(FEDERATION_PATHS.manifest, async () =>
    buildManifest({
      nodeKey: key,
      entityUri,
      tlsSpkiSha256: credentials.material.leaf.spkiSha256,
      now: new Date(),
    }),
  );
  app.get<{ Querystring: { cursor?: string; limit?: string } }>(
    FEDERATION_PATHS.facts,
    async (request, reply) => {
      const call = { cursor: request.query.cursor, limit: Number(request.query.limit) };
      peer.feedCalls.push(call);
      return peer.feed(call, reply);
    },
  );
  app.get(FEDERATION_PATHS.revocations, async () => ({ revocations: [], cursor: '0', more: false }));
  app.post(FEDERATION_PATHS.wake, async (_request, reply) => reply.status(202).send({ status: 'pulling' }));
  await app.listen({ host: '127.0.0.1', port: 0 });
  peer.url = `https://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  return peer;
}

/** Fact content as a client would assert it (confidence 1). */
export function content(entity: string, scope: Scope = 'company'): FactContent {
  return {
    entity,
    relation: 'test:seq',
    value: { type: 'string', v: entity },
    source: 'test',
    confidence: 1,
    scope,
  };
}

/** An HLC on the wire for now (+ offset ms). */
export function hlcAt(offsetMs = 0): string {
  return formatHlc({ wallMs: Date.now() + offsetMs, counter: 0 });
}

/**
 * A feed record as an origin serves it: CID from the content, id derived from the CID (unless `id` forces
 * another), signed by `signer` over {cid, hlc, id, origin_node_id} (null: unsigned; `kid` claims another key id).
 */
export function record(
  facts: FactContent,
  options: {
    origin: string;
    signer: NodeKey | null;
    kid?: string;
    hlc?: string;
    id?: string;
    attested?: unknown;
  },
): FactRecord {
  const cid = factCid(facts);
  const signed = {
    id: options.id ?? factId(cid),
    cid,
    hlc: options.hlc ?? hlcAt(),
    origin_node_id: options.origin,
  };
  const signature = options.signer ? signOrigin(signed, options.signer) : null;
  return {
    ...facts,
    ...signed,
    timestamp: new Date().toISOString(),
    valid_until: null,
    attested: options.attested ?? null,
    received_from: null,
    origin_sig: signature && options.kid ? { ...signature, kid: options.kid } : signature,
  };
}
