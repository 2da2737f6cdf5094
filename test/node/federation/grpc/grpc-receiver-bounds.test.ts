// The receiving side's bounds, against hand-made senders over real mutual TLS: a stream on which nothing
// arrives (no page, no heartbeat) for the stall timeout is cut (`stream_idle`); a page that is not strict
// JSON is refused as a whole (`bad_response`); heartbeats are not pages.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { ServerWritableStream } from '@grpc/grpc-js';
import { NodeError } from '../../../../src/node/errors.ts';
import { GrpcPeerTransport } from '../../../../src/node/features/federation/grpc/grpc-peer-transport.ts';
import { federationServiceDefinition } from '../../../../src/node/features/federation/grpc/proto.ts';
import { allow } from '../../../../src/tls/authorize.ts';
import type { CredentialSource } from '../../../../src/tls/credential-source.ts';
import { createMtlsGrpcServer, type MtlsGrpcServer } from '../../../../src/transport/grpc/server.ts';
import { createTestCa, tempDir, testUri, writeMaterial } from '../../../support/pki.ts';
import { openStaticCredentials, silentLogger } from '../../../support/tls-peers.ts';

type Behaviour = (call: ServerWritableStream<unknown, unknown>) => void;

let behaviour: Behaviour = () => {};
let server: MtlsGrpcServer;
let serverCredentials: CredentialSource;
let clientCredentials: CredentialSource;
const PEER = { entityUri: testUri('sender'), federationUrl: 'https://127.0.0.1:1' };

before(async () => {
  const ca = await createTestCa();
  const root = await tempDir({ after });
  serverCredentials = await openStaticCredentials(
    await writeMaterial(join(root), 'sender', await ca.issue('sender'), ca.certPem),
  );
  clientCredentials = await openStaticCredentials(
    await writeMaterial(join(root), 'receiver', await ca.issue('receiver'), ca.certPem),
  );
  server = createMtlsGrpcServer({
    credentials: serverCredentials,
    authorize: () => allow,
    logger: silentLogger,
  });
  server.grpc.addService(federationServiceDefinition(), {
    Manifest: (_call: unknown, reply: (e: null, v: object) => void) => reply(null, {}),
    Wake: (_call: unknown, reply: (e: null, v: object) => void) => reply(null, {}),
    Subscribe: (call: ServerWritableStream<unknown, unknown>) => behaviour(call),
  });
  await server.listen();
});
after(async () => {
  await server.close();
  serverCredentials.close();
  clientCredentials.close();
});

async function firstFailure(stallTimeoutMs: number) {
  const transport = new GrpcPeerTransport({
    credentials: clientCredentials,
    endpointOf: () => `127.0.0.1:${server.port}`,
    logger: silentLogger,
    stallTimeoutMs,
  });
  try {
    const subscription = await transport.subscribeFacts(PEER, 'token', { limit: 10 });
    assert.ok(subscription);
    const pages: unknown[] = [];
    try {
      for await (const page of subscription.pages()) pages.push(page);
    } catch (error) {
      assert.ok(error instanceof NodeError);
      return { reason: error.extra.peer_error, pages };
    }
    return { reason: null, pages };
  } finally {
    await transport.close();
  }
}

test('a silent stream (heartbeats only, then nothing) is cut at the stall timeout: stream_idle', async () => {
  behaviour = (call) => {
    call.write({ facts: [], cursor: 'c1', more: false, remaining: 0, heartbeat: true });
  };
  const { reason, pages } = await firstFailure(400);
  assert.equal(reason, 'stream_idle');
  assert.deepEqual(pages, [], 'a heartbeat is not a page');
});

test('a fact that is not strict JSON refuses the page: bad_response', async () => {
  behaviour = (call) => {
    call.write({
      facts: [Buffer.from('{"a":1,"a":2}')],
      cursor: 'c1',
      more: false,
      remaining: 0,
      heartbeat: false,
    });
  };
  const { reason, pages } = await firstFailure(5000);
  assert.equal(reason, 'bad_response');
  assert.deepEqual(pages, []);
});
