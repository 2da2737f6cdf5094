// Who may replicate over gRPC, on both sides, with a real node process: the node's gRPC listener refuses a
// client without a certificate, one from another CA, and one whose URI SAN is not the identity its token
// claims (or that is no approved peer), each with its reason counted; the node's gRPC client refuses a
// server from another CA and one whose URI SAN is not the peer's entity URI, before any call byte.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createSecureContext } from 'node:tls';
import {
  ChannelCredentials,
  type ClientReadableStream,
  Metadata,
  type ServiceError,
  status,
} from '@grpc/grpc-js';
import { GrpcPeerTransport } from '../../../../src/node/features/federation/grpc/grpc-peer-transport.ts';
import { federationClientConstructor } from '../../../../src/node/features/federation/grpc/proto.ts';
import { loadOrCreateNodeKey } from '../../../../src/node/features/identity/node-key.ts';
import { exactUri } from '../../../../src/tls/authorize.ts';
import type { CredentialSource } from '../../../../src/tls/credential-source.ts';
import { createMtlsChannelCredentials } from '../../../../src/transport/grpc/channel-credentials.ts';
import { GRPC_ENV, scrape } from '../../../support/grpc-federation.ts';
import { ONE_CONNECTION_ATTEMPT, startGrpcServer } from '../../../support/grpc-peers.ts';
import {
  addAndApprove,
  type NodeProcess,
  peerToken,
  startNodeProcess,
} from '../../../support/node-process.ts';
import { createTestCa, type TestCa, testUri, writeMaterial } from '../../../support/pki.ts';
import { until } from '../../../support/reload.ts';
import { openStaticCredentials, silentLogger, testMetrics } from '../../../support/tls-peers.ts';

type Subscriber = {
  Subscribe(request: object, metadata: Metadata): ClientReadableStream<unknown>;
  close(): void;
};

/** Subscribes with these channel credentials and token; resolves with the status the stream ended with. */
async function subscribe(
  endpoint: string,
  credentials: ChannelCredentials,
  token?: string,
): Promise<ServiceError> {
  const Ctor = federationClientConstructor();
  const client = new Ctor(endpoint, credentials, ONE_CONNECTION_ATTEMPT) as unknown as Subscriber;
  const metadata = new Metadata();
  if (token) metadata.set('authorization', `Bearer ${token}`);
  try {
    return await new Promise<ServiceError>((resolve, reject) => {
      const call = client.Subscribe({ cursor: '', limit: 10 }, metadata);
      call.on('data', () => reject(new Error('a page was served')));
      call.on('error', (error: ServiceError) => resolve(error));
    });
  } finally {
    client.close();
  }
}

describe('gRPC federation refusals', () => {
  let ca: TestCa;
  let evil: TestCa;
  let a: NodeProcess;
  let b: NodeProcess;
  let root: string;
  const opened: CredentialSource[] = [];

  before(async () => {
    ca = await createTestCa();
    evil = await createTestCa('Evil CA');
    root = await mkdtemp(join(tmpdir(), 'tessera-grpc-refusals-'));
    [a, b] = await Promise.all([
      startNodeProcess({ name: 'a', ca, root, env: GRPC_ENV }),
      startNodeProcess({ name: 'b', ca, root, env: GRPC_ENV }),
    ]);
    await addAndApprove(a, b);
    await addAndApprove(b, a);
  });
  after(async () => {
    for (const source of opened) source.close();
    await Promise.all([a?.stop(), b?.stop()]);
    await rm(root, { recursive: true, force: true });
  });

  /** Channel credentials presenting a certificate for `uri` issued by `issuer` (server identity: A). */
  const presenting = async (name: string, issuer: TestCa, uri: string) => {
    await mkdir(join(root, 'clients', name), { recursive: true });
    // The bundle holds the issuer (our leaf must chain to it) and the real CA (A's certificate).
    const paths = await writeMaterial(
      join(root, 'clients', name),
      name,
      await issuer.issue(name, { uris: [uri] }),
      issuer === ca ? ca.certPem : `${issuer.certPem}${ca.certPem}`,
    );
    const credentials = await openStaticCredentials(paths);
    opened.push(credentials);
    return createMtlsChannelCredentials({ credentials, expectedUri: a.entityUri, logger: silentLogger });
  };
  const serverRefusals = (reason: string) =>
    scrape(a, 'tessera_tls_handshake_rejections_total', { side: 'server', reason });

  test('server: no client certificate → refused at the handshake (no_client_certificate)', async () => {
    const before = await serverRefusals('no_client_certificate');
    const plain = ChannelCredentials.createFromSecureContext(createSecureContext({ ca: ca.certPem }), {
      checkServerIdentity: () => undefined,
    });
    const error = await subscribe(a.grpcEndpoint as string, plain);
    assert.equal(error.code, status.UNAVAILABLE);
    await until(
      'A to count the refusal',
      async () => (await serverRefusals('no_client_certificate')) > before,
    );
  });

  test('server: a certificate from another CA → refused at the handshake (cert_untrusted)', async () => {
    const before = await serverRefusals('cert_untrusted');
    const error = await subscribe(a.grpcEndpoint as string, await presenting('evil-b', evil, b.entityUri));
    assert.equal(error.code, status.UNAVAILABLE);
    await until('A to count the refusal', async () => (await serverRefusals('cert_untrusted')) > before);
  });

  test("server: a URI SAN that is not the token's issuer → UNAUTHENTICATED token_binding_mismatch", async () => {
    // Mallory holds a certificate of the right CA and B's node key, but not B's certificate.
    const token = await peerToken(b.dataDir, b.entityUri, a.entityUri);
    const error = await subscribe(
      a.grpcEndpoint as string,
      await presenting('mallory', ca, testUri('mallory')),
      token,
    );
    assert.equal(error.code, status.UNAUTHENTICATED);
    assert.match(error.details, /^token_binding_mismatch: /);
    assert.ok(
      (await scrape(a, 'tessera_federation_rejections_total', { reason: 'token_binding_mismatch' })) >= 1,
    );
  });

  test('server: an identity that is no approved peer → PERMISSION_DENIED peer_not_approved; no token → token_missing', async () => {
    const mallory = await presenting('mallory2', ca, testUri('mallory2'));
    const key = await loadOrCreateNodeKey({ dataDir: join(root, 'mallory-key') });
    const error = await subscribe(
      a.grpcEndpoint as string,
      mallory,
      await peerToken(key, testUri('mallory2'), a.entityUri),
    );
    assert.equal(error.code, status.PERMISSION_DENIED);
    assert.match(error.details, /^peer_not_approved: /);
    const none = await subscribe(a.grpcEndpoint as string, await presenting('b-copy', ca, b.entityUri));
    assert.equal(none.code, status.UNAUTHENTICATED);
    assert.match(none.details, /^token_missing: /);
  });

  test('server: one live subscription per peer: a newer one ends the older (ABORTED superseded)', async () => {
    // B's own puller holds a subscription to A; a second one under B's identity replaces it, and when B's
    // puller subscribes again (after its backoff) it replaces this one: never two at a time.
    const before = await scrape(a, 'tessera_federation_grpc_stream_ends_total', {
      role: 'sender',
      reason: 'superseded',
    });
    const credentials = await openStaticCredentials(b.tls);
    opened.push(credentials);
    const Ctor = federationClientConstructor();
    const client = new Ctor(
      a.grpcEndpoint as string,
      createMtlsChannelCredentials({ credentials, expectedUri: a.entityUri, logger: silentLogger }),
      ONE_CONNECTION_ATTEMPT,
    ) as unknown as Subscriber;
    try {
      const metadata = new Metadata();
      metadata.set('authorization', `Bearer ${await peerToken(b.dataDir, b.entityUri, a.entityUri)}`);
      const call = client.Subscribe({ cursor: '', limit: 10 }, metadata);
      const ended = new Promise<ServiceError>((resolve) => call.on('error', resolve));
      call.on('data', () => {});
      const error = await ended;
      assert.equal(error.code, status.ABORTED);
      assert.match(error.details, /^superseded: /);
      const superseded = await scrape(a, 'tessera_federation_grpc_stream_ends_total', {
        role: 'sender',
        reason: 'superseded',
      });
      assert.ok(superseded >= before + 2, 'B’s stream, then this one');
      assert.ok(
        (await scrape(a, 'tessera_federation_grpc_streams', { role: 'sender' })) <= 1,
        'one stream for B',
      );
    } finally {
      client.close();
    }
  });

  // The client side: the node's gRPC transport refuses a server that does not prove the peer identity.
  {
    const impostor = async (issuer: TestCa, uri: string) => {
      await mkdir(join(root, 'impostors', uri.split('/').pop() as string), { recursive: true });
      const paths = await writeMaterial(
        join(root, 'impostors', uri.split('/').pop() as string),
        'server',
        await issuer.issue('imp', { uris: [uri] }),
        issuer.certPem,
      );
      return startGrpcServer(paths, exactUri(b.entityUri));
    };
    const attempt = async (port: number) => {
      const credentials = await openStaticCredentials(b.tls);
      opened.push(credentials);
      const { registry, metrics } = testMetrics();
      const transport = new GrpcPeerTransport({
        credentials,
        endpointOf: () => `127.0.0.1:${port}`,
        metrics,
        logger: silentLogger,
        connectTimeoutMs: 5000,
        channel: ONE_CONNECTION_ATTEMPT,
      });
      const token = await peerToken(b.dataDir, b.entityUri, a.entityUri);
      try {
        await transport.subscribeFacts({ entityUri: a.entityUri, federationUrl: a.federationUrl }, token, {
          limit: 10,
        });
        assert.fail('the impostor was accepted');
      } catch (error) {
        return { error: error as { code: string; extra: Record<string, unknown> }, registry };
      } finally {
        await transport.close();
      }
    };

    test('client: a server certificate from another CA → grpc_unavailable:cert_untrusted', async () => {
      const server = await impostor(evil, a.entityUri);
      try {
        const { error } = await attempt(server.port);
        assert.equal(error.code, 'peer_call_failed');
        assert.equal(error.extra.peer_error, 'grpc_unavailable:cert_untrusted');
      } finally {
        await server.close();
      }
    });

    test("client: a server whose URI SAN is not the peer's entity URI → grpc_unavailable:uri_mismatch", async () => {
      const server = await impostor(ca, testUri('mallory3'));
      try {
        const { error, registry } = await attempt(server.port);
        assert.equal(error.extra.peer_error, 'grpc_unavailable:uri_mismatch');
        const counted = await registry.getSingleMetric('tessera_tls_handshake_rejections_total')?.get();
        assert.ok(
          counted?.values.some((v) => v.labels.side === 'client' && v.labels.reason === 'uri_mismatch'),
        );
        assert.equal(server.echo.calls, 0, 'no call reached the impostor');
      } finally {
        await server.close();
      }
    });
  }
});
