// Flow control of the gRPC replication stream, against a real node process: a subscriber that stops reading
// makes the sender wait (HTTP/2 flow control fills, grpc-js holds the writes) with never more than its cap
// of unsent pages in memory, and a stream stalled past the stall timeout is cut and counted; a subscriber
// that reads gets every fact exactly once, the sender still within its cap.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { connect } from 'node:http2';
import { join } from 'node:path';
import { test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { type ClientReadableStream, Metadata } from '@grpc/grpc-js';
import { federationClientConstructor } from '../../../../src/node/features/federation/grpc/proto.ts';
import { clientTlsOptions } from '../../../../src/tls/policy.ts';
import { createMtlsChannelCredentials } from '../../../../src/transport/grpc/channel-credentials.ts';
import { GRPC_ENV, scrape } from '../../../support/grpc-federation.ts';
import { addAndApprove, peerToken, startNodeProcess } from '../../../support/node-process.ts';
import { createTestCa, tempDir, testUri } from '../../../support/pki.ts';
import { until } from '../../../support/reload.ts';
import { seedFacts } from '../../../support/seed.ts';
import { openStaticCredentials, silentLogger } from '../../../support/tls-peers.ts';

const TOTAL = 20_000;
const CAP = 2;

interface Page {
  facts: Buffer[];
  cursor: string;
  more: boolean;
  heartbeat: boolean;
}

test('a slow subscriber slows the sender (unsent pages ≤ cap), a stalled one is cut; a reader gets every fact once', {
  timeout: 300_000,
}, async (t) => {
  const ca = await createTestCa();
  const root = await tempDir(t);
  await seedFacts(join(root, 'a'), testUri('a'), TOTAL);
  const env = {
    ...GRPC_ENV,
    TESSERA_FEDERATION_GRPC_SEND_BUFFER_PAGES: String(CAP),
    TESSERA_FEDERATION_GRPC_STALL_TIMEOUT_MS: '4000',
  };
  const a = await startNodeProcess({ name: 'a', ca, root, env });
  // B is approved on A but does not approve A, so only this test subscribes (with B's certificate and key).
  const b = await startNodeProcess({
    name: 'b',
    ca,
    root,
    env: { TESSERA_FEDERATION_PULL_INTERVAL_S: '3600' },
  });
  t.after(async () => {
    await Promise.all([a.stop(), b.stop()]);
  });
  await addAndApprove(a, b);
  const credentials = await openStaticCredentials(b.tls);
  t.after(() => credentials.close());
  const channelCredentials = createMtlsChannelCredentials({
    credentials,
    expectedUri: a.entityUri,
    logger: silentLogger,
  });
  const Ctor = federationClientConstructor();
  const client = new Ctor(a.grpcEndpoint as string, channelCredentials) as unknown as {
    Subscribe(request: object, metadata: Metadata): ClientReadableStream<Page>;
    close(): void;
  };
  t.after(() => client.close());
  const subscribe = async () => {
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${await peerToken(b.dataDir, b.entityUri, a.entityUri)}`);
    return client.Subscribe({ cursor: '', limit: 500 }, metadata);
  };

  // 1. A subscriber that reads nothing: a raw HTTP/2 client over B's mTLS whose stream stays paused, so
  // HTTP/2 flow control (64 KiB windows) fills. The sender holds its cap of unsent pages and waits, then
  // cuts the stalled stream's connection (its status could not pass the unsent pages).
  const material = {
    certPem: await readFile(b.tls.certPath, 'utf8'),
    keyPem: await readFile(b.tls.keyPath, 'utf8'),
    caPem: await readFile(b.tls.caPath, 'utf8'),
  };
  const [host, port] = (a.grpcEndpoint as string).split(':') as [string, string];
  const session = connect(`https://${host}:${port}`, {
    createConnection: () =>
      tlsConnect({
        ...clientTlsOptions(material),
        host,
        port: Number(port),
        ALPNProtocols: ['h2'],
        checkServerIdentity: () => undefined,
      }),
  });
  const closed = new Promise<void>((resolve) => session.on('close', () => resolve()));
  session.on('error', () => {});
  const stalled = session.request({
    ':method': 'POST',
    ':path': '/tessera.federation.v1.Federation/Subscribe',
    'content-type': 'application/grpc',
    te: 'trailers',
    authorization: `Bearer ${await peerToken(b.dataDir, b.entityUri, a.entityUri)}`,
  });
  stalled.on('error', () => {});
  // One gRPC message: SubscribeRequest { limit: 500 } (field 2, varint).
  stalled.end(Buffer.from([0, 0, 0, 0, 3, 0x10, 0xf4, 0x03]));
  stalled.pause();
  await until(
    'the sender to hold its cap of unsent pages',
    async () => (await scrape(a, 'tessera_federation_grpc_send_buffered_pages')) === CAP,
    { timeoutMs: 60_000 },
  );
  await closed;
  assert.equal(
    await scrape(a, 'tessera_federation_grpc_stream_ends_total', { role: 'sender', reason: 'stalled' }),
    1,
  );
  assert.equal(
    await scrape(a, 'tessera_federation_grpc_send_buffered_pages'),
    0,
    'the cut stream released its pages',
  );
  assert.equal(await scrape(a, 'tessera_federation_grpc_send_buffered_pages_max'), CAP);

  // 2. A subscriber that reads (one page at a time, slowly) gets every fact exactly once.
  const reader = await subscribe();
  const cids = new Set<string>();
  let facts = 0;
  for await (const page of reader as AsyncIterable<Page>) {
    for (const bytes of page.facts) {
      cids.add((JSON.parse(bytes.toString()) as { cid: string }).cid);
      facts++;
    }
    if (!page.more && facts >= TOTAL) break;
    await new Promise((resolve) => setImmediate(resolve));
  }
  reader.cancel();
  assert.equal(facts, TOTAL);
  assert.equal(cids.size, TOTAL, 'no fact twice');
  const max = await scrape(a, 'tessera_federation_grpc_send_buffered_pages_max');
  assert.ok(max >= 1 && max <= CAP, `the sender never held more than ${CAP} unsent pages (max ${max})`);
});
